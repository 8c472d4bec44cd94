import { createHash, randomBytes } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import {
  startFaultProxy,
  startLocalS3,
  startMultipartShim,
  type FaultProxy,
  type LocalS3,
  type MultipartShim,
} from '@tvm/test-utils';
import { readStateSnapshot } from '@tvm/durable-queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnAgent } from './e2e-harness.js';
import {
  configDocument,
  makeWorkspace,
  objects,
  registeredCount,
  SOURCES,
  stateList,
  until,
  writeConfig,
  writeLog,
} from './helpers.js';

let s3: LocalS3;
let shim: MultipartShim;
let proxy: FaultProxy;
beforeAll(async () => {
  s3 = await startLocalS3({ buckets: ['t01logs'] });
  // s3rver lacks ListParts, which resuming a multipart upload needs; the proxy counts the bytes sent.
  shim = await startMultipartShim({ port: s3.port, directory: s3.directory });
  proxy = await startFaultProxy({ targetPort: shim.port });
});
afterAll(async () => {
  await proxy?.close();
  await shim?.close();
  await s3?.close();
});

const MiB = 1024 * 1024;
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

describe('tvm-upload run with log_directories[].compress (end to end, SIGKILL)', () => {
  it('resumes a compressed multipart upload after a SIGKILL without resending its finished parts', async () => {
    const ws = await makeWorkspace();
    // Hex text compresses about 2:1: 16 MiB become about 9 MiB of gzip, two parts of 5 MiB.
    const planner = join(ws.logs, 'ros', 'run-1', 'planner.log');
    const original = Buffer.from(randomBytes(8 * MiB).toString('hex'));
    await writeLog(planner, original);
    // gzip data under a .log name: recognised by its magic bytes, sent as it is.
    const rotated = join(ws.logs, 'ros', 'run-1', 'rotated.log');
    const rotatedBody = gzipSync(Buffer.from('[INFO] rotated\n'.repeat(10_000)));
    await writeLog(rotated, rotatedBody);
    await writeConfig(
      ws,
      configDocument(ws, proxy.endpoint, 't01logs', {
        log_directories: SOURCES.map((source) => ({
          path: join(ws.logs, source),
          source,
          ...(source === 'ros' ? { compress: 'gzip' } : {}),
        })),
        s3: { multipart_threshold_mb: 5, part_size_mb: 5, concurrency: 1 },
        // A part takes about 2.5 s: the kill lands after the first part and before the last.
        upload: { bandwidth_limit: '2MB/s' },
      }),
    );
    const spool = join(ws.state, 'spool');

    const first = spawnAgent(['run', '--config', ws.configFile]);
    let parts: number;
    try {
      await first.waitFor('tvm-upload started', 20_000);
      await until(
        async () =>
          (await stateList(ws.state, 'queue.json')).some(
            (e) => ((e['multipart'] as { parts?: unknown[] } | undefined)?.parts?.length ?? 0) >= 1,
          ),
        60_000,
        'the first part of the compressed upload recorded in the queue',
      );
      first.child.kill('SIGKILL');
      expect(await first.exited).toBe('SIGKILL');
      const entry = (await stateList(ws.state, 'queue.json')).find((e) => e.filepath === planner)!;
      const multipart = entry['multipart'] as { key: string; parts: unknown[]; size: number };
      expect(multipart.key).toMatch(/\/ros\/run-1\/planner\.log\.gz$/);
      parts = multipart.parts.length;
      expect(parts).toBeGreaterThanOrEqual(1);
      expect(parts).toBeLessThan(Math.ceil(multipart.size / (5 * MiB)));
      // The spool file and its marker survived the kill.
      expect((await readdir(spool)).sort()).toEqual([
        expect.stringMatching(/^[0-9a-f]{32}\.gz$/),
        expect.stringMatching(/^[0-9a-f]{32}\.json$/),
      ]);
    } finally {
      first.child.kill('SIGKILL');
    }

    proxy.resetCounters();
    const second = spawnAgent(['run', '--config', ws.configFile]);
    try {
      await second.waitFor('tvm-upload started', 20_000);
      const uploaded = await second.waitFor(/^Uploaded .*planner\.log to /, 60_000);
      expect(uploaded).toContain(`resumed ${parts} of `);
      await until(
        async () =>
          (await registeredCount(ws.state)) === 2 && (await stateList(ws.state, 'queue.json')).length === 0,
        30_000,
        'both files registered and the queue empty',
      );
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    } finally {
      second.child.kill('SIGKILL');
    }

    const stored = await objects(s3.client(), 't01logs');
    const keys = [...stored.keys()].sort();
    expect(keys).toEqual([
      expect.stringMatching(/^vehicle-CN-001\/\d{4}-\d\d-\d\d\/ros\/run-1\/planner\.log\.gz$/),
      expect.stringMatching(/^vehicle-CN-001\/\d{4}-\d\d-\d\d\/ros\/run-1\/rotated\.log$/),
    ]);
    const object = stored.get(keys[0]!)!;
    expect(gunzipSync(object).equals(original)).toBe(true);
    expect(stored.get(keys[1]!)!.equals(rotatedBody)).toBe(true);
    // After the restart only the parts S3 did not hold yet crossed the link (plus requests and the small file).
    expect(proxy.bytesUpstream).toBeLessThan(object.length - parts * 5 * MiB + MiB);
    const head = await s3.client().send(new HeadObjectCommand({ Bucket: 't01logs', Key: keys[0]! }));
    expect(head.Metadata).toMatchObject({
      'tvm-compression': 'gzip',
      'tvm-original-size': String(original.length),
      'tvm-original-sha256': sha256(original),
    });
    // Registered as the original's version; the spool is empty again.
    const { registry } = await readStateSnapshot({ directory: ws.state });
    expect(registry.find((r) => r.filepath === planner)).toMatchObject({
      key: keys[0],
      size: original.length,
      mtimeMs: (await stat(planner)).mtimeMs,
    });
    expect(await readdir(spool)).toEqual([]);
  }, 170_000);
});
