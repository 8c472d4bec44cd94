import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createFakeClock } from '@tvm/test-utils';
import { describe, expect, it } from 'vitest';
import { createAgent, type Agent } from '../src/agent.js';
import {
  captureLogger,
  configDocument,
  makeWorkspace,
  until,
  writeConfig,
  writeLog,
  useLocalS3,
} from './helpers.js';

const s3 = useLocalS3();

/** The next `hh:mm` UTC after the real time, so real file mtimes stay older than the fake clock. */
function nextAt(hhmm: string): number {
  const today = Date.parse(`${new Date().toISOString().slice(0, 10)}T${hhmm}:00Z`);
  return today > Date.now() ? today : today + 86_400_000;
}

describe('createAgent schedules', () => {
  it('keeps a ready file queued outside operational hours until the next scheduled run', async () => {
    const ws = await makeWorkspace();
    const file = join(ws.logs, 'terminal', 'night.log');
    await writeLog(file, 'written at night');
    const config = await writeConfig(
      ws,
      configDocument(ws, s3.endpoint, 't01logs', {
        upload: {
          operational_hours: { enabled: true, start: '09:00', end: '18:00' },
          upload_on_start: false,
          schedule: { mode: 'interval', interval_hours: 1, interval_minutes: 0 },
        },
      }),
    );
    const clock = createFakeClock(nextAt('20:00'));
    const logger = captureLogger();
    let agent: Agent | undefined;
    try {
      agent = await createAgent({ config, logger, clock, watch: false, commitDelayMs: 0 });
      const { store } = agent;
      await until(() => store.queue.has(file), 5_000, 'the file to be queued');
      await until(() =>
        logger.lines.some((l) => l.includes('queued outside operational hours (09:00-18:00)')),
      );
      await clock.advance(59 * 60_000);
      await new Promise((r) => setTimeout(r, 200));
      expect(store.queue.has(file)).toBe(true);
      await clock.advance(60_000);
      await until(() => !store.queue.has(file), 5_000, 'the scheduled run');
      expect(logger.lines.some((l) => l.startsWith('Upload run started (scheduled every 1 h 0 min)'))).toBe(
        true,
      );
    } finally {
      await agent?.stop();
    }
  });

  it('uploads what the start-up scan finds with upload_on_start, even outside operational hours', async () => {
    const ws = await makeWorkspace();
    const file = join(ws.logs, 'ros', 'run', 'old.log');
    await writeLog(file, 'from before the reboot');
    const config = await writeConfig(
      ws,
      configDocument(ws, s3.endpoint, 't01logs', {
        upload: { operational_hours: { enabled: true, start: '09:00', end: '18:00' }, upload_on_start: true },
      }),
    );
    const logger = captureLogger();
    let agent: Agent | undefined;
    try {
      agent = await createAgent({
        config,
        logger,
        clock: createFakeClock(nextAt('20:00')),
        watch: false,
        commitDelayMs: 0,
      });
      const { store } = agent;
      await until(() => store.registry.size === 1, 5_000, 'the start-up upload');
      expect(logger.lines.some((l) => l.startsWith('Upload run started (upload_on_start)'))).toBe(true);
    } finally {
      await agent?.stop();
    }
  });

  it('catches up a missed daily run at start and never runs one day twice, across restarts', async () => {
    const ws = await makeWorkspace();
    const config = await writeConfig(
      ws,
      configDocument(ws, s3.endpoint, 't01logs', {
        upload: { upload_on_start: false, schedule: { mode: 'daily', daily_time: '15:00' } },
      }),
    );
    const now = nextAt('10:00'); // the 15:00 run of the day before was missed
    const missed = new Date(now - 86_400_000).toISOString().slice(0, 10);
    await writeFile(join(ws.state, 'schedule.json'), JSON.stringify({ daily_upload: '2020-01-01' }));
    const started = (lines: string[]) =>
      lines.filter((l) => l.startsWith('Upload run started (daily upload'));
    for (const [hour, expected] of [
      [0, [`Upload run started (daily upload at 15:00 (${missed})): 0 file(s) queued`]],
      [1, []], // a restart an hour later: that occurrence already ran
    ] as const) {
      const clock = createFakeClock(now + hour * 3_600_000);
      const logger = captureLogger();
      const agent = await createAgent({ config, logger, clock, watch: false, commitDelayMs: 0 });
      await agent.stop();
      expect(started(logger.lines)).toEqual(expected);
    }
    const record = JSON.parse(await readFile(join(ws.state, 'schedule.json'), 'utf8')) as {
      daily_upload: string;
    };
    expect(record.daily_upload).toBe(missed);
  });
});
