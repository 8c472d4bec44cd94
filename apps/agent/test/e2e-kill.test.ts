import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startLocalS3, startMultipartShim, type LocalS3, type MultipartShim } from '@tvm/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnAgent } from './e2e-harness.js';
import {
  configDocument,
  makeWorkspace,
  objects,
  registeredCount,
  stateList,
  until,
  writeConfig,
  writeLog,
} from './helpers.js';

let s3: LocalS3;
let shim: MultipartShim;
beforeAll(async () => {
  s3 = await startLocalS3({ buckets: ['t01logs'] });
  // s3rver lacks ListParts and AbortMultipartUpload, which resuming a multipart upload needs.
  shim = await startMultipartShim({ port: s3.port, directory: s3.directory });
});
afterAll(async () => {
  await shim?.close();
  await s3?.close();
});

// The 2,000 files take about two minutes on a loaded 2-core CI machine; the suite runs 600 by default
// (TVM_E2E_KILL_FILES=2000 runs the full count).
const SMALL_FILES = Number(process.env['TVM_E2E_KILL_FILES'] ?? 600);

describe('tvm-upload run (end to end, SIGKILL)', () => {
  it(`loses nothing when killed at random moments during a ${SMALL_FILES}-file run`, async () => {
    const ws = await makeWorkspace();
    const files: string[] = [];
    for (let i = 0; i < SMALL_FILES; i++) {
      const source = ['terminal', 'ros', 'ros2'][i % 3] as string;
      const path = join(ws.logs, source, `run-${i % 17}`, `file-${i}.log`);
      files.push(path);
      await writeLog(path, `${i}:${randomBytes(64 + (i % 200)).toString('hex')}\n`);
    }
    // Two multipart files (3 parts of 5 MiB), slowed down so kills land mid-upload.
    for (let i = 0; i < 2; i++) {
      const path = join(ws.logs, 'ros', 'bags', `big-${i}.bag`);
      files.push(path);
      await writeLog(path, randomBytes(12 * 1024 * 1024));
    }
    await writeConfig(
      ws,
      configDocument(ws, shim.endpoint, 't01logs', {
        s3: { multipart_threshold_mb: 5, part_size_mb: 5, concurrency: 8 },
        upload: { bandwidth_limit: '40MB/s' },
      }),
    );

    let kills = 0;
    for (let round = 0; round < 12; round++) {
      const agent = spawnAgent(['run', '--config', ws.configFile]);
      try {
        await agent.waitFor('tvm-upload started', 20_000);
        if (kills < 4) {
          // Somewhere in the start-up scan, the queueing or the uploads.
          await new Promise((r) => setTimeout(r, 300 + Math.random() * 2500));
          agent.child.kill('SIGKILL');
          await agent.exited;
          kills++;
          continue;
        }
        await until(
          // Both: a kill between the registry write and the queue write leaves a registered file queued, and the
          // agent checks it again (the uploader finds the object and sends nothing) before the queue is empty.
          async () =>
            (await registeredCount(ws.state)) === files.length &&
            (await stateList(ws.state, 'queue.json')).length === 0,
          90_000,
          'every file registered and the queue empty',
        );
        agent.child.kill('SIGTERM');
        expect(await agent.exited).toBe(0);
        break;
      } finally {
        agent.child.kill('SIGKILL');
      }
    }
    expect(kills).toBeGreaterThan(0);
    expect(await stateList(ws.state, 'queue.json')).toEqual([]);
    const stored = await objects(s3.client(), 't01logs');
    expect(stored.size).toBe(files.length);
    const byName = new Map([...stored].map(([key, body]) => [key.split('/').slice(3).join('/'), body]));
    for (const file of files) {
      const rel = file
        .slice(ws.logs.length + 1)
        .split('/')
        .slice(1)
        .join('/');
      expect(byName.get(rel)?.equals(await readFile(file)), rel).toBe(true);
    }
  }, 170_000);
});
