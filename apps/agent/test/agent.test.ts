import { symlink } from 'node:fs/promises';
import { join } from 'node:path';
import {
  createFakeClock,
  startFakeCloudWatch,
  startLocalS3,
  type FakeCloudWatch,
  type LocalS3,
} from '@tvm/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, type Agent } from '../src/agent.js';
import { captureLogger, configDocument, makeWorkspace, until, writeConfig, writeLog } from './helpers.js';

let s3: LocalS3;
let cloudWatch: FakeCloudWatch;
beforeAll(async () => {
  s3 = await startLocalS3({ buckets: ['t01logs'] });
  cloudWatch = await startFakeCloudWatch();
});
afterAll(async () => {
  await cloudWatch?.close();
  await s3?.close();
});

describe('createAgent', () => {
  it('publishes the runbook metrics and fails a name S3 would reject without stopping', async () => {
    const ws = await makeWorkspace();
    const good = join(ws.logs, 'ros', 'run', 'good.log');
    const bad = join(ws.logs, 'ros', 'run', 'bad\u0001name.log');
    await writeLog(good, 'fine');
    await writeLog(bad, 'unlucky name');
    const config = await writeConfig(ws, configDocument(ws, s3.endpoint, 't01logs'));
    const logger = captureLogger();
    let agent: Agent | undefined;
    try {
      agent = await createAgent({
        config,
        logger,
        clock: createFakeClock(Date.now()),
        watch: false,
        commitDelayMs: 0,
        cloudWatch: cloudWatch.client(),
      });
      const { store } = agent;
      await until(() => store.registry.size === 1 && store.failed.size === 1, 10_000, 'both outcomes');
      expect(store.failed.get(bad)?.category).toBe('invalid-object-key');
      expect(logger.lines.some((l) => l.startsWith('PERMANENT FAILURE: Invalid object key'))).toBe(true);
      await agent.metrics.publishNow();
      const sums = new Map<string, number>();
      for (const datum of cloudWatch.metricData()) {
        expect(datum.Namespace).toBe('TVM/Upload');
        expect(datum.Dimensions).toEqual([{ Name: 'VehicleId', Value: 'vehicle-CN-001' }]);
        const value = datum.StatisticValues?.Sum ?? datum.Value ?? 0;
        sums.set(datum.MetricName, (sums.get(datum.MetricName) ?? 0) + value);
      }
      expect(sums.get('FileCount')).toBe(1);
      expect(sums.get('BytesUploaded')).toBe(4);
      expect(sums.get('FailureCount')).toBe(1);
      expect(sums.get('ServiceStartup')).toBe(1);
    } finally {
      await agent?.stop();
    }
  });

  it('picks up a log directory that appears after start, through a symlink, at the next reconcile scan', async () => {
    const ws = await makeWorkspace();
    const linked = join(ws.logs, 'late');
    const document = configDocument(ws, s3.endpoint, 't01logs');
    (document['log_directories'] as Array<Record<string, unknown>>).push({ path: linked, source: 'late' });
    const config = await writeConfig(ws, document);
    const clock = createFakeClock(Date.now());
    const logger = captureLogger();
    let agent: Agent | undefined;
    try {
      agent = await createAgent({ config, logger, clock, watch: false, commitDelayMs: 0 });
      const real = join(ws.root, 'elsewhere');
      await writeLog(join(real, 'run', 'x.log'), 'late but there');
      await symlink(real, linked);
      await clock.advance(60_000);
      const { store } = agent;
      await until(() => store.registry.size === 1, 5_000, 'the upload');
      expect(store.registry.list()[0]?.key).toMatch(/^vehicle-CN-001\/\d{4}-\d{2}-\d{2}\/late\/run\/x\.log$/);
    } finally {
      await agent?.stop();
    }
  });
});
