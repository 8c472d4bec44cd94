import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createAgent, type Agent } from '../src/agent.js';
import {
  captureLogger,
  configDocument,
  makeWorkspace,
  objects,
  until,
  writeConfig,
  writeLog,
  useLocalS3,
} from './helpers.js';

const s3 = useLocalS3();

describe('Agent.reconfigure (defect 14)', () => {
  it('applies a new bandwidth limit, schedule and deletion policy live, without touching the upload in flight', async () => {
    const ws = await makeWorkspace();
    const big = join(ws.logs, 'ros', 'big.bag');
    const body = Buffer.alloc(3 * 1024 * 1024, 7);
    await writeLog(big, body);
    // 1 MiB/s: the 3 MiB file takes about three seconds, long enough to reload in the middle.
    const document = configDocument(ws, s3.endpoint, 't01logs', { upload: { bandwidth_limit: '1MB/s' } });
    const config = await writeConfig(ws, document);
    const logger = captureLogger();
    let agent: Agent | undefined;
    try {
      agent = await createAgent({ config, logger, watch: false, commitDelayMs: 0 });
      await until(() => agent?.pipeline.status().inFlight === 1, 5_000, 'the upload to start');
      const next = await writeConfig(
        ws,
        configDocument(ws, s3.endpoint, 't01logs', {
          upload: { bandwidth_limit: '4MB/s', schedule: { interval_hours: 6 } },
          deletion: { after_upload: { keep_days: 2 } },
        }),
      );
      const plan = await agent.reconfigure(next);
      expect(plan.restart).toEqual([]);
      expect(plan.live).toEqual([
        'deletion.after_upload.keep_days',
        'upload.bandwidth_limit',
        'upload.schedule.interval_hours',
      ]);
      expect(agent.pipeline.status().inFlight).toBe(1);
      await until(() => agent?.store.queue.size === 0, 15_000, 'the upload to finish');
      expect(logger.lines.some((l) => l.includes('interrupted'))).toBe(false);
      expect(logger.lines).toContain(
        'Configuration applied live: deletion.after_upload.keep_days, upload.bandwidth_limit, upload.schedule.interval_hours',
      );
      const stored = await objects(s3.client(), 't01logs');
      expect([...stored.values()].some((b) => b.equals(body))).toBe(true);
    } finally {
      await agent?.stop();
    }
  });

  it('applies nothing and names the keys when a change needs a restart', async () => {
    const ws = await makeWorkspace();
    const config = await writeConfig(ws, configDocument(ws, s3.endpoint, 't01logs'));
    const logger = captureLogger();
    const agent = await createAgent({ config, logger, watch: false, commitDelayMs: 0 });
    try {
      const plan = await agent.reconfigure({ ...config, s3: { ...config.s3, concurrency: 1 } });
      expect(plan).toEqual({ live: [], restart: ['s3.concurrency'] });
      expect(logger.lines.some((l) => l.startsWith('Configuration applied live'))).toBe(false);
    } finally {
      await agent.stop();
    }
  });
});
