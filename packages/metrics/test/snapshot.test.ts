import { startHttpResponder, type HttpResponder } from '@tvm/test-utils';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { INTERVAL, T0, createWorld, type World } from './helpers.js';

let world: World;
beforeEach(async () => {
  world = await createWorld();
});
afterEach(async () => {
  await world.close();
});

describe('Metrics.snapshot', () => {
  it('reports counters, categories, last gauge readings and publisher state as plain JSON', async () => {
    const metrics = world.create();
    metrics.start();
    metrics.serviceStartup();
    metrics.fileUploaded(2048);
    metrics.uploadFailed('network');
    metrics.uploadFailed('network');
    metrics.uploadFailed('file-not-found');
    metrics.permanentFailure('file-not-found');
    metrics.retryScheduled();
    metrics.diskUsage(50, '/');
    metrics.diskUsage(91.5, '/home');
    metrics.queueDepth(4);
    metrics.oldestPendingAge(600);
    metrics.uploadsPaused(true);
    metrics.fileDeletedUnsent();
    await world.tick(metrics);

    const snapshot = metrics.snapshot();
    expect(JSON.parse(JSON.stringify(snapshot))).toEqual(snapshot);
    expect(snapshot).toEqual({
      vehicleId: 'vehicle-CN-001',
      namespace: 'TVM/Upload',
      publishing: true,
      counters: {
        FileCount: 1,
        BytesUploaded: 2048,
        FailureCount: 3,
        PermanentFailureCount: 1,
        RetryCount: 1,
        ServiceStartup: 1,
        DeletedUnsentFiles: 1,
      },
      failuresByCategory: { network: 2, 'file-not-found': 1 },
      permanentFailuresByCategory: { 'file-not-found': 1 },
      gauges: {
        DiskUsagePercent: { '/': { value: 50, at: T0 }, '/home': { value: 91.5, at: T0 } },
        QueueDepth: { value: 4, at: T0 },
        OldestPendingAgeSeconds: { value: 600, at: T0 },
        UploadsPaused: { value: 1, at: T0 },
      },
      lastPublishAt: T0 + INTERVAL,
      lastAttemptAt: T0 + INTERVAL,
      sentPoints: 11,
      bufferedPoints: 0,
      dropped: { expired: 0, overflow: 0, rejected: 0 },
      lastError: null,
    });
  });
});

describe('Metrics.prometheus', () => {
  it('renders the snapshot in the text exposition format', async () => {
    const metrics = world.create({ vehicleId: 'vehicle-"CN"-001' });
    metrics.fileUploaded(10);
    metrics.uploadFailed('network');
    metrics.diskUsage(42, '/home');
    metrics.fileDeletedUnsent();
    const text = metrics.prometheus();
    expect(text).toContain(
      '# HELP tvm_upload_files_total Files uploaded.\n# TYPE tvm_upload_files_total counter\ntvm_upload_files_total{vehicle_id="vehicle-\\"CN\\"-001"} 1\n',
    );
    expect(text).toContain('tvm_upload_bytes_total{vehicle_id="vehicle-\\"CN\\"-001"} 10\n');
    expect(text).toContain('tvm_upload_deleted_unsent_total{vehicle_id="vehicle-\\"CN\\"-001"} 1\n');
    expect(text).toContain(
      'tvm_upload_failures_total{vehicle_id="vehicle-\\"CN\\"-001",category="network"} 1\n',
    );
    expect(text).toContain(
      'tvm_upload_disk_usage_percent{vehicle_id="vehicle-\\"CN\\"-001",mount="/home"} 42\n',
    );
    expect(text).toContain(
      'tvm_metrics_dropped_points_total{vehicle_id="vehicle-\\"CN\\"-001",reason="overflow"} 0\n',
    );
    expect(text).not.toContain('tvm_upload_queue_depth{'); // never sampled: no sample line
    expect(text.endsWith('\n')).toBe(true);
    for (const line of text.trimEnd().split('\n')) {
      expect(line).toMatch(/^(# (HELP|TYPE) \w+ .+|\w+\{[^}]*\} -?[\d.e+]+)$/);
    }
  });
});

describe('createMetrics with a service that refuses the request itself', () => {
  let responder: HttpResponder;
  afterEach(async () => {
    await responder.close();
  });

  it('drops a refused request after the retry budget and counts it as rejected', async () => {
    // No CloudWatch error is known to the classifier as "this request is bad", so it stays "unknown":
    // retried for the runbook's 10 retries, then dropped rather than blocking every later point.
    responder = await startHttpResponder(() => ({
      status: 400,
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amzn-query-error': 'InvalidParameterValue;Sender',
      },
      body: JSON.stringify({
        __type: 'InvalidParameterValue',
        message: 'The value for parameter Unit is not valid.',
      }),
    }));
    const client = world.cloudwatch.client({ endpoint: responder.endpoint, maxAttempts: 1 });
    const metrics = world.create({ client });
    metrics.fileUploaded(1);
    for (let i = 0; i < 10; i++) {
      expect(await metrics.publishNow()).toMatchObject({
        sent: 0,
        buffered: 2,
        error: { category: 'unknown' },
      });
    }
    expect(await metrics.publishNow()).toMatchObject({ sent: 0, buffered: 0 });
    expect(metrics.snapshot().dropped).toEqual({ expired: 0, overflow: 0, rejected: 2 });
    expect(responder.requests).toHaveLength(11);
    expect(world.logger.lines.at(-1)).toEqual({
      level: 'error',
      message:
        'CloudWatch refused 2 metric points; dropped them (InvalidParameterValue: The value for parameter Unit is not valid.)',
    });
  });
});
