import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { INTERVAL, T0, createWorld, type World } from './helpers.js';

let world: World;
beforeEach(async () => {
  world = await createWorld();
});
afterEach(async () => {
  await world.close();
});

const vehicle = [{ Name: 'VehicleId', Value: 'vehicle-CN-001' }];
const seconds = (ms: number): number => ms / 1000;

describe('createMetrics publisher', () => {
  it('sends each closed interval at its boundary with names, units, dimension and the interval timestamp', async () => {
    const metrics = world.create();
    metrics.serviceStartup();
    metrics.start();
    metrics.fileUploaded(1000);
    metrics.fileUploaded(3000);
    metrics.uploadFailed('network');
    metrics.retryScheduled();
    metrics.permanentFailure('file-not-found');
    await world.clock.advance(60_000);
    metrics.diskUsage(40);
    metrics.diskUsage(45.5, '/home');
    metrics.queueDepth(7);
    metrics.oldestPendingAge(120);
    expect(world.cloudwatch.requests).toHaveLength(0);

    await world.tick(metrics); // to T0 + 5 min: the first bucket closes and goes out

    expect(world.cloudwatch.requests.map((r) => r.operation)).toEqual(['PutMetricData']);
    expect(world.cloudwatch.requests[0]?.headers['content-type']).toBe('application/x-amz-json-1.0');
    expect(world.cloudwatch.metricData()).toEqual([
      {
        Namespace: 'TVM/Upload',
        MetricName: 'FileCount',
        Dimensions: vehicle,
        Timestamp: seconds(T0),
        StatisticValues: { SampleCount: 2, Sum: 2, Minimum: 1, Maximum: 1 },
        Unit: 'Count',
      },
      {
        Namespace: 'TVM/Upload',
        MetricName: 'BytesUploaded',
        Dimensions: vehicle,
        Timestamp: seconds(T0),
        StatisticValues: { SampleCount: 2, Sum: 4000, Minimum: 1000, Maximum: 3000 },
        Unit: 'Bytes',
      },
      {
        Namespace: 'TVM/Upload',
        MetricName: 'FailureCount',
        Dimensions: vehicle,
        Timestamp: seconds(T0),
        Value: 1,
        Unit: 'Count',
      },
      {
        Namespace: 'TVM/Upload',
        MetricName: 'PermanentFailureCount',
        Dimensions: vehicle,
        Timestamp: seconds(T0),
        Value: 1,
        Unit: 'Count',
      },
      {
        Namespace: 'TVM/Upload',
        MetricName: 'RetryCount',
        Dimensions: vehicle,
        Timestamp: seconds(T0),
        Value: 1,
        Unit: 'Count',
      },
      {
        Namespace: 'TVM/Upload',
        MetricName: 'DiskUsagePercent',
        Dimensions: vehicle,
        Timestamp: seconds(T0),
        StatisticValues: { SampleCount: 2, Sum: 85.5, Minimum: 40, Maximum: 45.5 },
        Unit: 'Percent',
      },
      {
        Namespace: 'TVM/Upload',
        MetricName: 'QueueDepth',
        Dimensions: vehicle,
        Timestamp: seconds(T0),
        Value: 7,
        Unit: 'Count',
      },
      {
        Namespace: 'TVM/Upload',
        MetricName: 'OldestPendingAgeSeconds',
        Dimensions: vehicle,
        Timestamp: seconds(T0),
        Value: 120,
        Unit: 'Seconds',
      },
      {
        Namespace: 'TVM/Upload',
        MetricName: 'ServiceStartup',
        Dimensions: vehicle,
        Timestamp: seconds(T0),
        Value: 1,
        Unit: 'Count',
      },
    ]);
    expect(metrics.snapshot()).toMatchObject({
      sentPoints: 9,
      bufferedPoints: 0,
      lastPublishAt: T0 + INTERVAL,
    });
  });

  it('puts samples into the interval they were taken in, and sends nothing for a quiet interval', async () => {
    const metrics = world.create();
    metrics.start();
    metrics.fileUploaded(10);
    await world.tick(metrics); // T0 bucket
    await world.tick(metrics); // quiet bucket: no request
    metrics.queueDepth(1);
    metrics.queueDepth(5);
    await world.tick(metrics);

    expect(world.cloudwatch.requests).toHaveLength(2);
    const data = world.cloudwatch.metricData();
    expect(data.map((d) => [d.MetricName, d.Timestamp])).toEqual([
      ['FileCount', seconds(T0)],
      ['BytesUploaded', seconds(T0)],
      ['QueueDepth', seconds(T0 + 2 * INTERVAL)],
    ]);
    expect(data[2]?.StatisticValues).toEqual({ SampleCount: 2, Sum: 6, Minimum: 1, Maximum: 5 });
  });

  it('sends the open interval on publishNow() and on stop()', async () => {
    const metrics = world.create();
    metrics.start();
    metrics.fileUploaded(5);
    await world.clock.advance(10_000);
    const result = await metrics.publishNow();
    expect(result).toEqual({ sent: 2, buffered: 0 });
    metrics.retryScheduled();
    await metrics.stop();
    expect(world.cloudwatch.metricData().map((d) => [d.MetricName, d.Timestamp])).toEqual([
      ['FileCount', seconds(T0)],
      ['BytesUploaded', seconds(T0)],
      ['RetryCount', seconds(T0)],
    ]);
  });

  it('returns from start() and records synchronously while CloudWatch refuses connections', async () => {
    await world.cloudwatch.setMode('refuse');
    const metrics = world.create();
    metrics.start(); // returns at once: nothing is sent before the first boundary
    metrics.serviceStartup();
    metrics.fileUploaded(1);
    expect(metrics.snapshot().counters).toMatchObject({ ServiceStartup: 1, FileCount: 1, BytesUploaded: 1 });
    await world.tick(metrics);
    expect(metrics.snapshot()).toMatchObject({ bufferedPoints: 3, sentPoints: 0, lastPublishAt: null });
    expect(metrics.snapshot().lastError).toMatchObject({ code: 'publish-failed', category: 'network' });
    expect(world.logger.lines.filter((l) => l.level === 'warn')).toHaveLength(1);
    expect(world.logger.lines[0]?.message).toMatch(/^CloudWatch unreachable \(network\)/);
  });

  it('splits a large backlog into requests of at most 1000 datums and 1 MB, gzip-encoded on the wire', async () => {
    // A 1000-character vehicle id makes each datum about 1.2 KB, so the byte limit binds before the count limit.
    const metrics = world.create({ vehicleId: 'v'.repeat(1000), maxBufferedPoints: 5000 });
    await world.cloudwatch.setMode('refuse');
    for (let i = 0; i < 1500; i++) {
      metrics.queueDepth(i);
      metrics.oldestPendingAge(i);
      await world.clock.advance(INTERVAL);
    }
    await metrics.publishNow();
    expect(metrics.snapshot().bufferedPoints).toBe(3000);
    await world.cloudwatch.setMode('up');
    const result = await metrics.publishNow();
    expect(result).toEqual({ sent: 3000, buffered: 0 });
    const requests = world.cloudwatch.requests.filter((r) => r.status === 200);
    expect(requests.length).toBeGreaterThanOrEqual(4);
    for (const request of requests) {
      const datums = request.body['MetricData'] as unknown[];
      expect(datums.length).toBeLessThanOrEqual(1000);
      expect(Buffer.byteLength(JSON.stringify(request.body))).toBeLessThanOrEqual(1_000_000);
      expect(request.gzip).toBe(true);
    }
    const timestamps = world.cloudwatch.metricData().map((d) => d.Timestamp ?? 0);
    expect(timestamps).toEqual([...timestamps].sort((a, b) => a - b)); // oldest first
    expect(new Set(world.cloudwatch.metricData().map((d) => `${d.MetricName}@${d.Timestamp}`)).size).toBe(
      3000,
    );
  });

  it('keeps counting locally and sends nothing without a client', async () => {
    const metrics = world.create({ client: undefined });
    metrics.start();
    metrics.fileUploaded(100);
    await world.tick(metrics);
    expect(await metrics.publishNow()).toEqual({ sent: 0, buffered: 0 });
    expect(world.cloudwatch.requests).toHaveLength(0);
    expect(metrics.snapshot()).toMatchObject({
      publishing: false,
      counters: { FileCount: 1, BytesUploaded: 100 },
    });
  });
});

describe('createMetrics options', () => {
  it.each([
    [{ vehicleId: '' }, 'Expected `vehicleId` to be a string of 1 to 1024 characters, got ""'],
    [{ publishIntervalMs: 0 }, 'Expected `publishIntervalMs` to be a positive integer, got 0'],
    [{ maxBufferedPoints: -1 }, 'Expected `maxBufferedPoints` to be a positive integer, got -1'],
    [{ requestTimeoutMs: 1.5 }, 'Expected `requestTimeoutMs` to be a positive integer, got 1.5'],
    [{ namespace: '' }, 'Expected `namespace` to be a string of 1 to 255 characters, got ""'],
  ])('throws a TypeError naming the option for %o', (overrides, message) => {
    expect(() => world.create(overrides)).toThrow(new TypeError(message));
  });

  it('throws a TypeError for a sample CloudWatch would refuse', () => {
    const metrics = world.create();
    expect(() => metrics.diskUsage(101)).toThrow(
      new TypeError('Expected `percent` to be a number from 0 to 100, got 101'),
    );
    expect(() => metrics.fileUploaded(Number.NaN)).toThrow(
      new TypeError('Expected `bytes` to be a non-negative number, got NaN'),
    );
    expect(() => metrics.queueDepth(-1)).toThrow(TypeError);
    expect(metrics.snapshot().counters.FileCount).toBe(0);
  });
});
