import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useCountingFront, type Seen } from './counting-front.js';
import { spawnAgent } from './e2e-harness.js';
import {
  configDocument,
  makeWorkspace,
  objects,
  stateList,
  until,
  useLocalS3,
  writeConfig,
  writeLog,
} from './helpers.js';

const s3 = useLocalS3();

const proxy = useCountingFront(s3);

describe('priority lanes (end to end)', () => {
  it('a high file overtakes a big low-lane upload, which pauses and then completes with one CreateMultipartUpload', async () => {
    const ws = await makeWorkspace();
    const bag = join(ws.logs, 'ros', 'run.bag');
    await writeLog(bag, randomBytes(40 * 1024 * 1024));
    await mkdir(join(ws.logs, 'terminal'), { recursive: true });
    const document = configDocument(ws, proxy.endpoint, 't01logs', {
      // One slot, 5 MiB parts at 5 MiB/s: a part takes about a second, the bag about eight.
      s3: { multipart_threshold_mb: 5, part_size_mb: 5, concurrency: 1 },
      upload: {
        bandwidth_limit: '5MiB/s',
        priority_rules: [{ pattern: '*.crash', priority: 'high' }],
      },
    });
    for (const dir of document['log_directories'] as Array<Record<string, unknown>>) {
      if (dir['source'] === 'ros') dir['priority'] = 'low';
    }
    await writeConfig(ws, document);
    const agent = spawnAgent(['run', '--config', ws.configFile]);
    try {
      const bagKey = (r: Seen) => r.key.endsWith('/ros/run.bag');
      await until(
        () => proxy.seen.filter((r) => r.op === 'UploadPart' && bagKey(r) && r.end).length >= 2,
        30_000,
        'two parts of the bag',
      );

      const crash = join(ws.logs, 'terminal', 'planner.crash');
      await writeLog(crash, 'segfault in planner\n'.repeat(50), 0);
      const written = Date.now();
      await agent.waitFor(/Uploaded .*planner\.crash/, 20_000);
      const put = proxy.seen.find((r) => r.op === 'PutObject' && r.key.endsWith('/terminal/planner.crash'));
      expect(put?.end).toBeDefined();
      const text = agent.text().join('\n');
      expect(text).toContain(
        `Pausing the low-lane upload of ${bag} after its current part: ${crash} (high lane)`,
      );
      // The bag was not finished when the high file landed, and no part of it started while the high file went.
      expect(proxy.seen.some((r) => r.op === 'CompleteMultipartUpload' && bagKey(r))).toBe(false);
      const put0 = put as Seen;
      expect(
        proxy.seen.filter(
          (r) => r.op === 'UploadPart' && bagKey(r) && r.start >= put0.start && r.start <= (put0.end ?? 0),
        ),
      ).toEqual([]);
      // Ready after file_stable_seconds (1 s) and the detector's check; then at most about one part's time.
      expect((put0.end ?? 0) - written).toBeLessThan(5_000);

      await agent.waitFor(/Uploaded .*run\.bag/, 60_000);
      expect(agent.text().join('\n')).toMatch(/Upload of .*run\.bag paused after its current part/);
      expect(proxy.seen.filter((r) => r.op === 'CreateMultipartUpload' && bagKey(r))).toHaveLength(1);
      // Eight parts, none sent twice.
      expect(proxy.seen.filter((r) => r.op === 'UploadPart' && bagKey(r))).toHaveLength(8);
      await until(
        async () => (await stateList(ws.state, 'queue.json')).length === 0,
        10_000,
        'an empty queue',
      );
      const stored = await objects(s3.client(), 't01logs');
      expect(
        [...stored.keys()].filter((k) => k.endsWith('run.bag') || k.endsWith('planner.crash')),
      ).toHaveLength(2);
    } finally {
      agent.child.kill('SIGTERM');
      await agent.exited;
    }
  }, 120_000);
});
