import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  createFakeClock,
  startFaultProxy,
  startLocalS3,
  type FaultProxy,
  type LocalS3,
} from '@tvm/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, type Agent } from '../src/agent.js';
import { formatDelay } from '../src/pipeline/index.js';
import {
  captureLogger,
  configDocument,
  makeWorkspace,
  objects,
  until,
  writeConfig,
  writeCredentials,
  writeLog,
} from './helpers.js';

let s3: LocalS3;
let proxy: FaultProxy;
beforeAll(async () => {
  s3 = await startLocalS3({ buckets: ['t01logs'] });
  proxy = await startFaultProxy({ targetPort: s3.port });
});
afterAll(async () => {
  await proxy?.close();
  await s3?.close();
});

const realDelay = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('formatDelay', () => {
  it.each([
    [1000, '1s'],
    [512_000, '512s'],
    [50, '0.05s'],
    [1500, '2s'],
  ])('formats %i ms as %s', (ms, text) => {
    expect(formatDelay(ms)).toBe(text);
  });
});

describe('Pipeline', () => {
  it('rides out a 6-hour outage without spending retries, then uploads every file', async () => {
    const ws = await makeWorkspace();
    const files = Array.from({ length: 12 }, (_, i) => join(ws.logs, 'ros', `run-${i % 3}`, `f${i}.log`));
    for (const [i, file] of files.entries()) await writeLog(file, `content of file ${i}\n`.repeat(i + 1));
    const config = await writeConfig(
      ws,
      configDocument(ws, proxy.endpoint, 't01logs', {
        upload: { retry: { initial_delay_seconds: 1, max_delay_seconds: 512 } },
      }),
    );
    await proxy.setMode({ kind: 'refuse' });
    const clock = createFakeClock(Date.now());
    const logger = captureLogger();
    let agent: Agent | undefined;
    try {
      agent = await createAgent({ config, logger, clock, watch: false, commitDelayMs: 0 });
      const { store } = agent;
      await until(() => store.queue.size === files.length, 5_000, 'the start-up scan');
      await until(
        () => agent?.pipeline.paused?.kind === 'outage' && agent.pipeline.paused.confirmed === true,
        5_000,
        'the outage',
      );
      await until(() => agent?.pipeline.status().inFlight === 0, 5_000, 'failed uploads to settle');
      // Six hours in five-minute steps; each probe meets the refusing proxy for real.
      for (let minute = 0; minute < 6 * 60; minute += 5) {
        await clock.advance(5 * 60_000);
        await realDelay(5);
      }
      expect(store.queue.size).toBe(files.length);
      expect(store.queue.list().every((e) => e.attempts === 0)).toBe(true);
      expect(store.failed.size).toBe(0);
      await proxy.setMode({ kind: 'pass' });
      await clock.advance(5 * 60_000); // the next probe (capped at 5 minutes) finds the destination
      await until(() => store.queue.size === 0, 10_000, 'the queue to drain');
      expect(store.failed.size).toBe(0);
      const stored = await objects(s3.client(), 't01logs');
      for (const [i, file] of files.entries()) {
        const key = `vehicle-CN-001/${new Date(Date.now() - 3_600_000).toISOString().slice(0, 10)}/ros/run-${i % 3}/f${i}.log`;
        expect(stored.get(key)?.equals(await readFile(file))).toBe(true);
      }
      expect(logger.lines.filter((l) => l.startsWith('Retry '))).toEqual([]);
      expect(logger.lines.some((l) => l.startsWith('Destination unreachable'))).toBe(true);
      expect(logger.lines.some((l) => /^Uploads resumed after 3\d\d\.\d min/.test(l))).toBe(true);
    } finally {
      await proxy.setMode({ kind: 'pass' });
      await agent?.stop();
    }
  });

  it('keeps every file queued when a wrong access key pauses uploads, and uploads them all once the credentials file is fixed (defect 3)', async () => {
    const ws = await makeWorkspace('AKIAWRONGKEY00000000');
    const files = [1, 2, 3, 4, 5].map((i) => join(ws.logs, 'ros', `run`, `f${i}.log`));
    for (const [i, file] of files.entries()) await writeLog(file, `f${i}`, 3_600_000 - i * 1000);
    const config = await writeConfig(
      ws,
      configDocument(ws, s3.endpoint, 't01logs', { s3: { concurrency: 4 } }),
    );
    const clock = createFakeClock(Date.now());
    const logger = captureLogger();
    let agent: Agent | undefined;
    try {
      agent = await createAgent({ config, logger, clock, watch: false, commitDelayMs: 0 });
      const { store } = agent;
      await until(() => agent?.pipeline.paused?.kind === 'destination', 5_000, 'the destination pause');
      await until(() => agent?.pipeline.status().inFlight === 0, 5_000, 'in-flight uploads');
      expect(store.failed.size).toBe(0);
      expect(store.queue.size).toBe(5);
      expect(store.queue.list().every((e) => e.attempts === 0)).toBe(true);
      expect(logger.lines.filter((l) => l.startsWith('PERMANENT FAILURE'))).toEqual([
        'PERMANENT FAILURE: InvalidAccessKeyId: The AWS Access Key Id you provided does not exist in our records.',
      ]);
      expect(
        logger.lines.filter((l) => /^Permanent upload error for f\d\.log: InvalidAccessKeyId/.test(l)),
      ).toHaveLength(1);
      expect(logger.lines.join('\n')).not.toContain('AKIAWRONGKEY00000000');
      // Re-checks keep failing while the key is wrong; nothing goes to the failed list.
      await clock.advance(10 * 60_000);
      await realDelay(50);
      expect(store.failed.size).toBe(0);
      await writeCredentials(ws, 'S3RVER');
      await agent.refreshDestination('AWS credentials changed');
      await until(() => store.queue.size === 0, 10_000, 'the queue to drain');
      expect(store.failed.size).toBe(0);
      expect((await objects(s3.client(), 't01logs')).size).toBeGreaterThanOrEqual(5);
      expect(logger.lines.some((l) => l.startsWith('Uploads resumed after'))).toBe(true);
    } finally {
      await agent?.stop();
    }
  });
});
