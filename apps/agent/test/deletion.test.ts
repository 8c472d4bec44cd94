import { existsSync } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { requestForget, type FailedEntry, type QueueEntry, type RegistryEntry } from '@tvm/durable-queue';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentConfig } from '../src/config.js';
import {
  canonicalPath,
  deletionCandidates,
  unsentEntries,
  type DeletionState,
} from '../src/deletion-candidates.js';
import { configDocument, makeWorkspace, writeConfig, writeLog, type Workspace } from './helpers.js';
import { daemonHousekeeping } from './housekeeping-harness.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2025, 9, 20);
const dirs = [
  { path: '/logs/terminal', realPath: '/data/terminal' },
  { path: '/logs/ros', realPath: '/logs/ros' },
];
const queued = (filepath: string, extra: Partial<QueueEntry> = {}): QueueEntry => ({
  filepath,
  size: 10,
  mtimeMs: NOW - 20 * DAY,
  detectedAt: NOW,
  attempts: 0,
  nextAttemptAt: 0,
  ...extra,
});
const failed = (filepath: string): FailedEntry => ({
  filepath,
  size: 10,
  mtimeMs: NOW - 20 * DAY,
  attempts: 5,
  failedAt: NOW,
  category: 'network',
  message: 'ETIMEDOUT',
});
const uploaded = (filepath: string, uploadedAt: number): RegistryEntry => ({
  filepath,
  size: 10,
  mtimeMs: NOW - 20 * DAY,
  key: 'k',
  uploadedAt,
});

describe('canonicalPath', () => {
  it('names a file below a symlinked directory by its real path, and leaves other paths alone', () => {
    expect(canonicalPath('/logs/terminal/a.log', dirs)).toBe('/data/terminal/a.log');
    expect(canonicalPath('/logs/terminal/sub/a.log', dirs)).toBe('/data/terminal/sub/a.log');
    expect(canonicalPath('/data/terminal/a.log', dirs)).toBe('/data/terminal/a.log');
    expect(canonicalPath('/logs/terminal-2/a.log', dirs)).toBe('/logs/terminal-2/a.log');
    expect(canonicalPath('/logs/terminal', dirs)).toBe('/logs/terminal');
    expect(canonicalPath('/logs/ros/a.log', dirs)).toBe('/logs/ros/a.log');
    expect(canonicalPath('/logs/terminal/a.log', [{ path: '/logs/terminal', realPath: undefined }])).toBe(
      '/logs/terminal/a.log',
    );
  });
});

describe('deletionCandidates', () => {
  it('counts a file as pending when the queue names it by the real path and the registry by the link (defect 1)', () => {
    const state: DeletionState = {
      registry: [uploaded('/logs/terminal/a.log', NOW - 8 * DAY)],
      queue: [queued('/data/terminal/a.log')],
      failed: [],
    };
    expect(deletionCandidates(state, dirs)).toEqual([
      {
        path: '/data/terminal/a.log',
        size: 10,
        mtimeMs: NOW - 20 * DAY,
        uploadedAt: NOW - 8 * DAY,
        pending: true,
      },
    ]);
  });

  it('marks failed-list files pending, so only the emergency policy may delete them (defect 2)', () => {
    const state: DeletionState = {
      registry: [uploaded('/logs/ros/b.log', NOW - 30 * DAY)],
      queue: [],
      failed: [failed('/logs/ros/a.log'), failed('/logs/ros/b.log')],
    };
    const candidates = deletionCandidates(state, dirs);
    expect(candidates.map((c) => [c.path, c.pending])).toEqual([
      ['/logs/ros/b.log', true],
      ['/logs/ros/a.log', true],
    ]);
  });

  it('takes the latest upload record of a path, and leaves out entries without size and mtime', () => {
    const state: DeletionState = {
      registry: [
        uploaded('/logs/ros/a.log', NOW - 9 * DAY),
        uploaded('/logs/ros/a.log', NOW - 2 * DAY),
        uploaded('/logs/ros/a.log', NOW - 5 * DAY),
      ],
      queue: [{ filepath: '/logs/ros/hand-edited.log', detectedAt: NOW, attempts: 0, nextAttemptAt: 0 }],
      failed: [],
    };
    expect(deletionCandidates(state, dirs)).toEqual([
      expect.objectContaining({ path: '/logs/ros/a.log', uploadedAt: NOW - 2 * DAY, pending: false }),
    ]);
  });
});

describe('unsentEntries', () => {
  it('finds the queue and failed entries of deleted files as the state names them, with their identity', () => {
    const state: DeletionState = {
      registry: [],
      queue: [queued('/logs/terminal/a.log'), queued('/logs/ros/kept.log')],
      failed: [failed('/data/terminal/b.log')],
    };
    expect(unsentEntries(state, dirs, ['/data/terminal/a.log', '/data/terminal/b.log'])).toEqual([
      { filepath: '/logs/terminal/a.log', size: 10, mtimeMs: NOW - 20 * DAY },
      { filepath: '/data/terminal/b.log', size: 10, mtimeMs: NOW - 20 * DAY },
    ]);
  });
});

describe('Housekeeping', () => {
  let ws: Workspace;
  let config: AgentConfig;
  // 99 % used: critical, and deleting one small file never makes it healthy.
  const fullDisk = async () => ({ bsize: 1, blocks: 100_000, bfree: 1_000, bavail: 1_000 });

  beforeEach(async () => {
    ws = await makeWorkspace();
    config = await writeConfig(ws, configDocument(ws, 'http://127.0.0.1:9', 'bucket'));
  });
  afterEach(async () => {
    await rm(ws.root, { recursive: true, force: true });
  });

  async function queueOld(daemon: Awaited<ReturnType<typeof daemonHousekeeping>>, path: string) {
    await writeLog(path, 'x'.repeat(100), 20 * DAY);
    const s = await stat(path);
    await daemon.store.queue.add({ filepath: path, size: s.size, mtimeMs: s.mtimeMs });
    return s;
  }

  it('records an emergency deletion of unsent files: out of the queue and failed list, one DATA LOSS line each, a metric (defect 9)', async () => {
    const daemon = await daemonHousekeeping(config, { statfs: fullDisk });
    try {
      const queuedFile = join(ws.logs, 'terminal', 'queued.log');
      const failedFile = join(ws.logs, 'ros', 'failed.log');
      await queueOld(daemon, queuedFile);
      await queueOld(daemon, failedFile);
      await daemon.store.failed.add({ filepath: failedFile, category: 'network', message: 'ETIMEDOUT' });

      await daemon.housekeeping.run(['emergency'], 'test');

      expect(existsSync(queuedFile)).toBe(false);
      expect(existsSync(failedFile)).toBe(false);
      expect(daemon.store.queue.size).toBe(0);
      expect(daemon.store.failed.size).toBe(0);
      for (const file of [queuedFile, failedFile]) {
        expect(daemon.lines.filter((l) => l.includes('DATA LOSS') && l.includes(file))).toHaveLength(1);
      }
      expect(daemon.metrics.snapshot().counters.DeletedUnsentFiles).toBe(2);
    } finally {
      await daemon.close();
    }
  });

  it('never deletes a failed-list file with the age-based policy (defect 2)', async () => {
    const daemon = await daemonHousekeeping(config);
    try {
      const failedFile = join(ws.logs, 'ros', 'failed.log');
      await queueOld(daemon, failedFile);
      await daemon.store.failed.add({ filepath: failedFile, category: 'network', message: 'ETIMEDOUT' });
      await daemon.housekeeping.run(['age-based'], 'test');
      expect(existsSync(failedFile)).toBe(true);
      expect(daemon.store.failed.has(failedFile)).toBe(true);
    } finally {
      await daemon.close();
    }
  });

  it('applies the forget requests `tvm-upload cleanup` leaves, with one DATA LOSS line and a metric each', async () => {
    const daemon = await daemonHousekeeping(config);
    try {
      const path = join(ws.logs, 'terminal', 'gone.log');
      const s = await queueOld(daemon, path);
      await rm(path);
      await requestForget(
        { queueFile: daemon.store.paths.queueFile },
        [{ filepath: path, size: s.size, mtimeMs: s.mtimeMs }],
        'tvm-upload cleanup',
      );
      await daemon.housekeeping.checkDisk('test');
      await daemon.housekeeping.checkDisk('test again');
      expect(daemon.store.queue.has(path)).toBe(false);
      expect(daemon.lines.filter((l) => l.includes('DATA LOSS') && l.includes(path))).toEqual([
        `DATA LOSS: deleted ${path} (100 bytes), never uploaded, by tvm-upload cleanup; removed it from the queue and the failed list`,
      ]);
      expect(daemon.metrics.snapshot().counters.DeletedUnsentFiles).toBe(1);
    } finally {
      await daemon.close();
    }
  });
});
