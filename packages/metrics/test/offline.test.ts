import { readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { FakeCloudWatchMode } from '@tvm/test-utils';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { INTERVAL, T0, createWorld, type World } from './helpers.js';

let world: World;
beforeEach(async () => {
  world = await createWorld();
});
afterEach(async () => {
  await world.close();
});

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const seconds = (ms: number): number => ms / 1000;

/** "Name@epoch-seconds=value" for every datum CloudWatch accepted, to check each point arrived exactly once. */
function received(world: World): string[] {
  return world.cloudwatch
    .metricData()
    .map((d) => `${d.MetricName}@${d.Timestamp}=${d.Value ?? d.StatisticValues?.Sum}`)
    .sort();
}

async function bufferedOnDisk(file: string): Promise<Array<{ name: string; timestamp: number }>> {
  return (JSON.parse(await readFile(file, 'utf8')) as { points: Array<{ name: string; timestamp: number }> })
    .points;
}

describe('createMetrics offline buffer', () => {
  it.each<FakeCloudWatchMode>(['refuse', 'unavailable'])(
    'delivers every point of a 2-hour outage (%s) once, with its original timestamp, after the endpoint returns',
    async (mode) => {
      const metrics = world.create();
      metrics.start();
      metrics.fileUploaded(100);
      await world.tick(metrics); // one interval sent while online
      await world.cloudwatch.setMode(mode);

      const expected: string[] = [];
      for (let i = 0; i < 24; i++) {
        const bucket = T0 + (i + 1) * INTERVAL;
        metrics.uploadFailed('network');
        metrics.queueDepth(i);
        expected.push(`FailureCount@${seconds(bucket)}=1`, `QueueDepth@${seconds(bucket)}=${i}`);
        await world.tick(metrics);
      }
      expect(metrics.snapshot()).toMatchObject({
        bufferedPoints: 48,
        sentPoints: 2,
        lastPublishAt: T0 + INTERVAL,
      });
      const onDisk = await bufferedOnDisk(world.bufferFile);
      expect(onDisk).toHaveLength(48);
      expect(onDisk[0]).toMatchObject({ name: 'FailureCount', timestamp: T0 + INTERVAL });

      await world.cloudwatch.setMode('up');
      await world.tick(metrics);

      expect(received(world)).toEqual(
        ['BytesUploaded@1760918400=100', 'FileCount@1760918400=1', ...expected].sort(),
      );
      expect(metrics.snapshot()).toMatchObject({
        bufferedPoints: 0,
        sentPoints: 50,
        dropped: { expired: 0, overflow: 0 },
      });
      // Emptied on disk too, so a restart now would not send them again.
      expect(await bufferedOnDisk(world.bufferFile)).toEqual([]);
      const warnings = world.logger.lines.filter((l) => l.level === 'warn');
      expect(warnings).toHaveLength(1); // one line for the whole outage, not one per interval
      expect(world.logger.lines.filter((l) => l.level === 'info').map((l) => l.message)).toEqual([
        'CloudWatch accepts metrics again; sending 48 buffered points',
      ]);
    },
  );

  it('drops the oldest points beyond maxBufferedPoints and counts them', async () => {
    const metrics = world.create({ maxBufferedPoints: 5 });
    metrics.start();
    await world.cloudwatch.setMode('refuse');
    for (let i = 0; i < 8; i++) {
      metrics.queueDepth(i);
      await world.tick(metrics);
    }
    expect(metrics.snapshot()).toMatchObject({ bufferedPoints: 5, dropped: { overflow: 3, expired: 0 } });
    await world.cloudwatch.setMode('up');
    await world.tick(metrics);
    expect(world.cloudwatch.metricData().map((d) => d.Value)).toEqual([3, 4, 5, 6, 7]);
    expect(
      world.logger.lines.some((l) =>
        /dropped 0 points older than 14 days and 1 over the cap of 5/.test(l.message),
      ),
    ).toBe(true);
  });

  it('drops points older than 14 days and counts them', async () => {
    await mkdir(dirname(world.bufferFile), { recursive: true });
    const point = (timestamp: number) => ({
      name: 'FileCount',
      timestamp,
      sampleCount: 1,
      sum: 1,
      min: 1,
      max: 1,
    });
    await writeFile(
      world.bufferFile,
      JSON.stringify({
        version: 1,
        points: [point(T0 - 15 * DAY), point(T0 - 14 * DAY - 1), point(T0 - 13 * DAY)],
      }),
    );
    const metrics = world.create();
    expect(metrics.snapshot().bufferedPoints).toBe(3);
    const result = await metrics.publishNow();
    expect(result).toEqual({ sent: 1, buffered: 0 });
    expect(world.cloudwatch.metricData().map((d) => d.Timestamp)).toEqual([seconds(T0 - 13 * DAY)]);
    expect(metrics.snapshot().dropped).toEqual({ expired: 2, overflow: 0, rejected: 0 });
  });

  it('loses nothing across a restart in the middle of an outage', async () => {
    await world.cloudwatch.setMode('refuse');
    // The first process never starts its timer: it stands for one that was killed right after writing its buffer.
    const first = world.create();
    first.serviceStartup();
    first.fileUploaded(10);
    await world.clock.advance(INTERVAL);
    first.fileUploaded(20);
    expect(await first.publishNow()).toMatchObject({ sent: 0, buffered: 5 });

    await world.clock.advance(INTERVAL);
    const second = world.create();
    expect(second.snapshot().bufferedPoints).toBe(5);
    second.serviceStartup();
    second.start();
    await world.tick(second); // still down: the new point joins the old ones
    expect(second.snapshot().bufferedPoints).toBe(6);
    await world.cloudwatch.setMode('up');
    await world.tick(second);

    expect(received(world)).toEqual(
      [
        `ServiceStartup@${seconds(T0)}=1`,
        `FileCount@${seconds(T0)}=1`,
        `BytesUploaded@${seconds(T0)}=10`,
        `FileCount@${seconds(T0 + INTERVAL)}=1`,
        `BytesUploaded@${seconds(T0 + INTERVAL)}=20`,
        `ServiceStartup@${seconds(T0 + 2 * INTERVAL)}=1`,
      ].sort(),
    );
  });

  it('saves what stop() could not send, and the next process sends it', async () => {
    const first = world.create();
    first.start();
    await world.cloudwatch.setMode('refuse');
    first.fileUploaded(7);
    await first.stop();
    expect(await bufferedOnDisk(world.bufferFile)).toHaveLength(2);

    await world.cloudwatch.setMode('up');
    const second = world.create();
    await second.publishNow();
    expect(received(world)).toEqual([`BytesUploaded@${seconds(T0)}=7`, `FileCount@${seconds(T0)}=1`]);
  });

  it('keeps points while access is denied, logs the error once per hour, and sends them once allowed', async () => {
    const metrics = world.create();
    metrics.start();
    await world.cloudwatch.setMode('access-denied');
    for (let i = 0; i < 24; i++) {
      metrics.fileUploaded(1);
      await world.tick(metrics);
    }
    const errors = world.logger.lines.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(2); // at 00:05 and 01:05, not 24 times
    expect(errors[0]?.message).toMatch(
      /^CloudWatch PutMetricData failed permanently \(access-denied\): AccessDenied: User: .* is not authorized to perform: cloudwatch:PutMetricData/,
    );
    expect(metrics.snapshot()).toMatchObject({
      bufferedPoints: 48,
      lastError: { code: 'publish-failed', category: 'access-denied' },
    });

    await world.cloudwatch.setMode('up');
    await world.tick(metrics);
    expect(world.cloudwatch.metricData()).toHaveLength(48);
    expect(metrics.snapshot().bufferedPoints).toBe(0);
  });

  it('writes the buffer atomically and never while everything is sent', async () => {
    const metrics = world.create();
    metrics.start();
    metrics.fileUploaded(1);
    await world.tick(metrics);
    await expect(readdir(dirname(world.bufferFile))).rejects.toMatchObject({ code: 'ENOENT' });

    await world.cloudwatch.setMode('refuse');
    metrics.fileUploaded(2);
    await world.tick(metrics);
    expect(await readdir(dirname(world.bufferFile))).toEqual(['metrics-buffer.json']); // no temp file left behind
  });

  it('moves an unreadable buffer file aside and starts with an empty buffer', async () => {
    await mkdir(dirname(world.bufferFile), { recursive: true });
    await writeFile(world.bufferFile, '{"version":1,"points":[{"name":"FileCo');
    const metrics = world.create();
    expect(metrics.snapshot().bufferedPoints).toBe(0);
    expect((await readdir(dirname(world.bufferFile))).sort()).toEqual([`metrics-buffer.json.corrupt-${T0}`]);
    expect(world.logger.lines[0]?.message).toMatch(/was unreadable; moved it to .*corrupt/);
  });

  it('skips invalid entries of the buffer file and keeps the valid ones', async () => {
    await mkdir(dirname(world.bufferFile), { recursive: true });
    const good = { name: 'RetryCount', timestamp: T0, sampleCount: 1, sum: 1, min: 1, max: 1 };
    await writeFile(world.bufferFile, JSON.stringify({ version: 1, points: [good, { name: 'Nope' }, 42] }));
    const metrics = world.create();
    expect(metrics.snapshot().bufferedPoints).toBe(1);
    expect(world.logger.lines[0]?.message).toMatch(/skipped 2 invalid entries/);
  });

  it('ends stop() at stopTimeoutMs when the endpoint accepts and never answers, saving the points', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket)); // reads nothing, answers nothing
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    try {
      const client = world.cloudwatch.client({ endpoint: `http://127.0.0.1:${port}`, maxAttempts: 1 });
      const metrics = world.create({ client, stopTimeoutMs: 200 });
      metrics.start();
      metrics.fileUploaded(3);
      await metrics.stop();
      expect(metrics.snapshot().lastError).toMatchObject({ code: 'publish-failed', category: 'aborted' });
      expect(await bufferedOnDisk(world.bufferFile)).toHaveLength(2);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('keeps points in memory and says so when the buffer file cannot be written', async () => {
    await writeFile(`${world.dir}/not-a-directory`, '');
    const metrics = world.create({ bufferFile: `${world.dir}/not-a-directory/buffer.json` });
    metrics.start();
    await world.cloudwatch.setMode('refuse');
    metrics.fileUploaded(1);
    await world.tick(metrics);
    expect(metrics.snapshot()).toMatchObject({ bufferedPoints: 2, lastError: { code: 'buffer-io' } });
    expect(world.logger.lines.at(-1)?.message).toMatch(
      /^Could not write the metrics buffer .*buffer\.json: /,
    );

    await world.cloudwatch.setMode('up');
    await world.tick(metrics);
    expect(world.cloudwatch.metricData()).toHaveLength(2);
  });
});
