import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { openStateStore, type StateStore } from '@tvm/durable-queue';
import { createFakeClock } from '@tvm/test-utils';
import { afterEach, describe, expect, it } from 'vitest';
import type { WatchedDirectory } from '../src/adapters/files.js';
import type { ReadyFile } from '../src/detector.js';
import { intake } from '../src/intake.js';
import { silentLogger } from '../src/logger.js';
import { configDocument, makeWorkspace, writeConfig, type Workspace } from './helpers.js';

let store: StateStore | undefined;
let ws: Workspace | undefined;
afterEach(async () => {
  await store?.close();
  if (ws) await rm(ws.root, { recursive: true, force: true });
  store = undefined;
  ws = undefined;
});

const directory: WatchedDirectory = { path: '/logs', source: 'ros', recursive: true, pattern: '*' };
const ready = (from: number, count: number): ReadyFile[] =>
  Array.from({ length: count }, (_, i) => ({
    path: `/logs/run/${from + i}.log`,
    size: 1024,
    mtimeMs: 1_700_000_000_000 + from + i,
    dev: 1,
    ino: from + i,
    directory,
  }));

async function setup(batchUpload: boolean) {
  ws = await makeWorkspace();
  const config = await writeConfig(
    ws,
    configDocument(ws, 'http://127.0.0.1:9', 'b', { upload: { batch_upload: { enabled: batchUpload } } }),
  );
  store = await openStateStore({ directory: ws.state });
  const told: string[] = [];
  const pipeline = {
    startRun: (reason: string) => told.push(`run: ${reason}`),
    uploadNow: (paths: readonly string[]) => told.push(`now: ${paths.length}`),
  };
  const onReady = intake({
    store,
    pipeline,
    metrics: { queueDepth: () => undefined },
    clock: createFakeClock(1_700_000_100_000),
    logger: silentLogger,
    config: () => config,
  });
  return { store, onReady, told, state: ws.state };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('intake', () => {
  it('queues batch after batch at once and tells the pipeline once for them all (one sort of the queue, not one per batch)', async () => {
    const { store, onReady, told, state } = await setup(false);
    // A start-up scan hands its batches over without yielding to the event loop.
    for (let i = 0; i < 5; i++) await onReady(ready(i * 1000, 1000));
    expect(store.queue.size).toBe(5000);
    expect(told).toEqual([]);
    await turn();
    expect(told).toEqual(['now: 5000']);
    // Already queued: nothing more to tell.
    await onReady(ready(0, 10));
    await turn();
    expect(told).toEqual(['now: 5000']);
    await store.flush();
    const file = JSON.parse(await readFile(join(state, 'queue.json'), 'utf8')) as { files: unknown[] };
    expect(file.files).toHaveLength(5000);
  });

  it('starts one run for many batches in batch mode', async () => {
    const { onReady, told } = await setup(true);
    for (let i = 0; i < 3; i++) await onReady(ready(i * 10, 10));
    await turn();
    expect(told).toEqual(['run: new file ready']);
    await onReady(ready(100, 1));
    await turn();
    expect(told).toEqual(['run: new file ready', 'run: new file ready']);
  });
});
