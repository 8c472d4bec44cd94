import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFakeClock, settle } from '@tvm/test-utils';
import { describe, expect, it } from 'vitest';
import { parseConfig, type AgentConfig } from '../src/config.js';
import { Scheduler } from '../src/scheduler.js';
import { nextIntervalRunAt } from '../src/schedule.js';
import { captureLogger, until } from './helpers.js';

const config = (upload: object): AgentConfig =>
  parseConfig(
    JSON.stringify({
      vehicle_id: 'v1',
      log_directories: [{ path: '/logs', source: 'terminal' }],
      s3: { bucket: 'b', region: 'cn-north-1', credentials_path: '/aws' },
      upload: { timezone: 'UTC', ...upload },
      deletion: { age_based: { enabled: false } },
    }),
    { env: {} },
  ).config;

async function boot(file: string, at: number, c: AgentConfig) {
  const clock = createFakeClock(at);
  const runs: string[] = [];
  const scheduler = await Scheduler.start(
    {
      clock,
      logger: captureLogger(),
      recordFile: file,
      jobs: { uploadRun: (reason) => runs.push(reason), ageBasedCleanup: () => Promise.resolve() },
    },
    c,
  );
  return { clock, runs, scheduler };
}

describe('Scheduler (defect 13)', () => {
  it('counts the interval from the last run on record, across reboots more frequent than the interval', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'sched-')), 'schedule.json');
    const every2h = config({ schedule: { mode: 'interval', interval_hours: 2 } });
    const t0 = Date.parse('2026-12-01T00:00:00Z');
    // Five boots, 50 minutes each, 10 minutes apart: 5 hours of uptime in total.
    let runs = 0;
    for (let boot_ = 0; boot_ < 5; boot_++) {
      const b = await boot(file, t0 + boot_ * 60 * 60_000, every2h);
      await b.clock.advance(50 * 60_000);
      await settle();
      runs += b.runs.length;
      b.scheduler.stop();
    }
    expect(runs).toBe(2); // at 2 h and 4 h after the first boot
    const record = JSON.parse(await readFile(file, 'utf8')) as { interval_run_at: number };
    expect(record.interval_run_at).toBe(t0 + 4 * 60 * 60_000);
  });

  it('runs an overdue interval at start, and applies a new interval live', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'sched-')), 'schedule.json');
    const t0 = Date.parse('2026-12-01T00:00:00Z');
    const first = await boot(file, t0, config({ schedule: { mode: 'interval', interval_hours: 1 } }));
    first.scheduler.stop();
    const second = await boot(
      file,
      t0 + 3 * 60 * 60_000,
      config({ schedule: { mode: 'interval', interval_hours: 1 } }),
    );
    expect(second.runs).toEqual(['scheduled every 1 h 0 min']);
    second.scheduler.configure(
      config({ schedule: { mode: 'interval', interval_hours: 0, interval_minutes: 10 } }),
    );
    await second.clock.advance(10 * 60_000);
    await until(() => second.runs.length === 2, 2_000, 'the run at the new interval'); // after a real file write
    expect(second.runs).toEqual(['scheduled every 1 h 0 min', 'scheduled every 0 h 10 min']);
    expect(second.scheduler.nextRunAt).toBe(t0 + 3 * 60 * 60_000 + 20 * 60_000);
    second.scheduler.stop();
  });

  it('says when the next run is due', () => {
    expect(nextIntervalRunAt(undefined, 1000, 60_000)).toBe(61_000);
    expect(nextIntervalRunAt(5000, 1000, 60_000)).toBe(65_000);
  });
});
