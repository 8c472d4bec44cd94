import { existsSync } from 'node:fs';
import { appendFile, readFile, rename, stat, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { writeLog } from './helpers.js';
import { daemonHousekeeping, runAllPolicies } from './housekeeping-harness.js';
import { buildCli, createWorkspace, runCli, writeState, type Workspace } from './ops-harness.js';

// `tvm-upload cleanup`, the real bundled process, on a state the test writes; the daemon's housekeeping on the same.
const DAY = 86_400_000;
const HEALTHY = 'disk:\n  reserved_gb: 0\n  warning_threshold: 0.99\n  critical_threshold: 0.995\n';
// Any real disk is more than 1 % used: the emergency policy frees all it may.
const CRITICAL = 'disk:\n  reserved_gb: 0\n  warning_threshold: 0.01\n  critical_threshold: 0.01\n';

let cli: string;
let cleanupCli: () => Promise<void>;
beforeAll(async () => {
  ({ cli, cleanup: cleanupCli } = await buildCli());
}, 120_000);
afterAll(async () => {
  await cleanupCli();
});

type FileName =
  'uploadedOld' | 'uploadedRecent' | 'uploadedAged' | 'changed' | 'legacy' | 'queued' | 'failed' | 'stranger';

interface Scene {
  ws: Workspace;
  /** The real directory behind `logs/terminal`, which the config names through a symlink. */
  real: string;
  files: Record<FileName, string>;
  /** Every file of the scene, by path. */
  all: string[];
}

/**
 * A vehicle whose `terminal` directory is configured through a symlink, with what a daemon leaves in its state:
 * uploaded files (old, recent, changed since, one recorded through the link), a queued and a failed file that were
 * never uploaded, and a file the agent never saw.
 */
async function scene(disk: string): Promise<Scene> {
  const ws = await createWorkspace({ extra: disk });
  const real = join(ws.root, 'real-terminal');
  await rename(join(ws.logs, 'terminal'), real);
  await symlink(real, join(ws.logs, 'terminal'));
  const now = Date.now();
  const files: Record<FileName, string> = {
    uploadedOld: join(real, 'uploaded-old.log'),
    uploadedRecent: join(real, 'uploaded-recent.log'),
    uploadedAged: join(ws.logs, 'ros', 'uploaded-aged.log'),
    changed: join(ws.logs, 'ros', 'changed.log'),
    legacy: join(real, 'legacy.log'),
    queued: join(real, 'queued.log'),
    failed: join(ws.logs, 'ros', 'failed.log'),
    stranger: join(real, 'stranger.log'),
  };
  for (const [name, path] of Object.entries(files)) {
    await writeLog(path, `${name}\n`.repeat(10), name === 'uploadedRecent' ? 2 * 3_600_000 : 20 * DAY);
  }
  const id = async (path: string) => {
    const s = await stat(path);
    return { size: s.size, mtimeMs: s.mtimeMs };
  };
  const registry = [
    { filepath: files.uploadedOld, ...(await id(files.uploadedOld)), key: 'k1', uploadedAt: now - 8 * DAY },
    {
      filepath: files.uploadedRecent,
      ...(await id(files.uploadedRecent)),
      key: 'k2',
      uploadedAt: now - 3_600_000,
    },
    { filepath: files.uploadedAged, ...(await id(files.uploadedAged)), key: 'k3', uploadedAt: now - 3 * DAY },
    { filepath: files.changed, ...(await id(files.changed)), key: 'k4', uploadedAt: now - 8 * DAY },
    // An entry named through the configured (symlinked) directory.
    {
      filepath: join(ws.logs, 'terminal', 'legacy.log'),
      ...(await id(files.legacy)),
      key: 'k5',
      uploadedAt: now - 8 * DAY,
    },
  ];
  await appendFile(files.changed, 'written after the upload\n');
  await writeState(ws.state, {
    registry,
    queue: [
      { filepath: files.queued, ...(await id(files.queued)), detectedAt: now, attempts: 0, nextAttemptAt: 0 },
    ],
    failed: [
      {
        filepath: files.failed,
        ...(await id(files.failed)),
        attempts: 5,
        failedAt: now,
        category: 'network',
        message: 'ETIMEDOUT',
      },
    ],
  });
  return { ws, real, files, all: Object.values(files) };
}

async function stateFile(ws: Workspace, name: string): Promise<string> {
  return readFile(join(ws.state, name), 'utf8').catch(() => '');
}

describe('tvm-upload cleanup', () => {
  let current: Scene | undefined;
  afterEach(async () => {
    await current?.ws.cleanup();
    current = undefined;
  });

  it('keeps a queued, never-uploaded old file when the log directory is configured through a symlink (defect 1)', async () => {
    current = await scene(HEALTHY);
    const { ws, files } = current;
    const result = await runCli(cli, ['cleanup', '--config', ws.config]);
    expect(result.code).toBe(0);
    expect(existsSync(files.queued)).toBe(true);
    expect(existsSync(files.failed)).toBe(true);
    expect(existsSync(files.stranger)).toBe(true);
    expect(result.stdout).not.toContain('never uploaded');
    expect(result.stderr).not.toContain('DATA LOSS');
    expect(await stateFile(ws, 'queue.json')).toContain(files.queued);
  });

  it.each([
    ['a healthy disk', HEALTHY],
    ['a full disk (emergency policy)', CRITICAL],
  ])(
    '--dry-run --json lists exactly what the daemon next deletes, on the same state: %s',
    async (_, disk) => {
      current = await scene(disk);
      const { ws, all } = current;
      const dry = await runCli(cli, ['cleanup', '--dry-run', '--json', '--config', ws.config]);
      expect(dry.code).toBe(0);
      const planned = (JSON.parse(dry.stdout) as { entries: Array<{ path: string }> }).entries.map(
        (e) => e.path,
      );
      expect(all.every((path) => existsSync(path))).toBe(true);

      const config = (await loadConfig(ws.config)).config;
      const daemon = await daemonHousekeeping(config);
      try {
        await runAllPolicies(daemon);
      } finally {
        await daemon.close();
      }
      const deleted = all.filter((path) => !existsSync(path));
      expect(new Set(planned)).toEqual(new Set(deleted));
      expect(planned).toHaveLength(new Set(planned).size);
      // What each case must contain, so the comparison is not between two empty sets.
      const { files } = current;
      const expected =
        disk === HEALTHY
          ? [files.uploadedOld, files.uploadedAged, files.legacy]
          : [
              files.uploadedOld,
              files.uploadedRecent,
              files.uploadedAged,
              files.legacy,
              files.queued,
              files.failed,
            ];
      expect(new Set(deleted)).toEqual(new Set(expected));
      if (disk === CRITICAL) {
        for (const path of [files.queued, files.failed]) {
          expect(daemon.lines.filter((l) => l.startsWith('DATA LOSS') && l.includes(path))).toHaveLength(1);
        }
        expect(daemon.metrics.snapshot().counters.DeletedUnsentFiles).toBe(2);
        expect(await stateFile(ws, 'queue.json')).not.toContain(files.queued);
        expect(await stateFile(ws, 'failed.json')).not.toContain(files.failed);
      }
    },
    60_000,
  );

  it('takes the never-uploaded files it deletes out of the queue and the failed list, one DATA LOSS line each (defect 9)', async () => {
    current = await scene(CRITICAL);
    const { ws, files } = current;
    const result = await runCli(cli, ['cleanup', '--json', '--config', ws.config]);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as { forgotten: string[]; forgetRequest: string | null };
    expect(report).toMatchObject({ forgetRequest: 'applied' });
    expect(new Set(report.forgotten)).toEqual(new Set([files.queued, files.failed]));
    expect(existsSync(files.queued)).toBe(false);
    for (const path of [files.queued, files.failed]) {
      expect(
        result.stderr.split('\n').filter((l) => l.startsWith('DATA LOSS') && l.includes(path)),
      ).toHaveLength(1);
    }
    expect(result.stderr.split('\n').filter((l) => l.includes('DATA LOSS'))).toHaveLength(2);
    expect(await stateFile(ws, 'queue.json')).not.toContain(files.queued);
    expect(await stateFile(ws, 'failed.json')).not.toContain(files.failed);
    expect(existsSync(files.stranger)).toBe(true);
  }, 60_000);

  it('leaves the running daemon a request, which it applies with one DATA LOSS line and a metric each (defect 9)', async () => {
    current = await scene(CRITICAL);
    const { ws, files } = current;
    const config = (await loadConfig(ws.config)).config;
    // This process holds the state's lock, as a running daemon does.
    const daemon = await daemonHousekeeping(config);
    try {
      const result = await runCli(cli, ['cleanup', '--json', '--config', ws.config]);
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ forgetRequest: 'pending' });
      expect(daemon.store.queue.has(files.queued)).toBe(true);
      await daemon.housekeeping.checkDisk('periodic check');
      expect(daemon.store.queue.has(files.queued)).toBe(false);
      expect(daemon.store.failed.has(files.failed)).toBe(false);
      for (const path of [files.queued, files.failed]) {
        expect(daemon.lines.filter((l) => l.startsWith('DATA LOSS') && l.includes(path))).toHaveLength(1);
      }
      expect(daemon.metrics.snapshot().counters.DeletedUnsentFiles).toBe(2);
    } finally {
      await daemon.close();
    }
    expect(await stateFile(ws, 'queue.json')).not.toContain(files.queued);
  }, 60_000);
});
