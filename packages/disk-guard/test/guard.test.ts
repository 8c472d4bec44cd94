import { appendFile, mkdir, rm, utimes } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createFakeClock } from '@tvm/test-utils';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDiskGuard } from '../src/index.js';
import type { Candidate, DiskGuardOptions, FileStats } from '../src/index.js';
import { DAY, fakeDisk, recordingLogger, tempTree, writeLog } from './helpers.js';

const NOW = Date.UTC(2025, 9, 20);

describe('createDiskGuard plan() and apply()', () => {
  let root: string;
  let cleanup: () => Promise<void>;
  let logs: string;
  const clock = createFakeClock(NOW);
  const silent = { debug() {}, info() {}, warn() {}, error() {} };
  const at = (name: string) => join(logs, name);
  const names = (list: readonly { path: string }[]) => list.map((e) => e.path.slice(logs.length + 1));

  beforeEach(async () => {
    ({ root, cleanup } = await tempTree());
    logs = join(root, 'logs');
    await mkdir(logs);
  });
  afterEach(async () => cleanup());

  const guardFor = (options: Partial<DiskGuardOptions> = {}) =>
    createDiskGuard({ directories: [{ path: logs, source: 'ros' }], clock, logger: silent, ...options });

  describe('after-upload', () => {
    it('deletes files keepDays after their recorded upload, keeps younger uploads and pending files', async () => {
      const candidates = [
        await writeLog(at('due.log'), 100, NOW - 30 * DAY, { uploadedAt: NOW - 8 * DAY }),
        await writeLog(at('young.log'), 100, NOW - 30 * DAY, { uploadedAt: NOW - 2 * DAY }),
        await writeLog(at('pending.log'), 100, NOW - 30 * DAY, { pending: true }),
      ];
      const guard = guardFor({ afterUpload: { keepDays: 7 } });
      const plan = await guard.plan({ candidates, policies: ['after-upload'] });
      expect(names(plan.entries)).toEqual(['due.log']);
      expect(plan.entries[0]).toMatchObject({
        policy: 'after-upload',
        uploaded: true,
        dataLoss: false,
        size: 100,
      });
      expect(existsSync(at('due.log'))).toBe(true); // planning is a dry run

      const result = await guard.apply(plan);
      expect(names(result.deleted)).toEqual(['due.log']);
      expect(result.freedBytes).toBe(100);
      expect(existsSync(at('due.log'))).toBe(false);
      expect(existsSync(at('young.log'))).toBe(true);
      expect(existsSync(at('pending.log'))).toBe(true);
    });

    it('refuses an uploaded file that changed on disk since its upload', async () => {
      const grown = await writeLog(at('grown.log'), 100, NOW - 10 * DAY, { uploadedAt: NOW - 8 * DAY });
      await appendFile(grown.path, 'more data written after the upload');
      const plan = await guardFor().plan({ candidates: [grown], policies: ['after-upload'] });
      expect(plan.entries).toEqual([]);
      expect(plan.refused).toMatchObject([{ path: grown.path, code: 'changed', policy: 'after-upload' }]);
      expect(plan.refused[0]?.reason).toContain('size 100 -> 134');
    });

    it('accepts a recorded mtime that differs by less than a second (float seconds in the old registry)', async () => {
      const file = await writeLog(at('a.log'), 10, NOW - 10 * DAY, { uploadedAt: NOW - 8 * DAY });
      const plan = await guardFor().plan({
        candidates: [{ ...file, mtimeMs: file.mtimeMs + 0.4 }],
        policies: ['after-upload'],
      });
      expect(names(plan.entries)).toEqual(['a.log']);
    });
  });

  describe('age-based', () => {
    it('deletes old uploaded files but never a pending, failed or never-uploaded one, even years later', async () => {
      const candidates = [
        await writeLog(at('uploaded.log'), 10, NOW - 1 * DAY, { uploadedAt: NOW - 1 * DAY }),
        await writeLog(at('failed.log'), 10, NOW - 1 * DAY, { pending: true }),
        await writeLog(at('never-uploaded.log'), 10, NOW - 1 * DAY),
        await writeLog(at('pending.log'), 10, NOW - 1 * DAY, { pending: true }),
      ];
      const years = createFakeClock(NOW + 10 * 365 * DAY);
      const guard = guardFor({ clock: years, ageBased: { maxAgeDays: 14 } });
      const plan = await guard.plan({ candidates, policies: ['age-based'] });
      expect(names(plan.entries)).toEqual(['uploaded.log']);
      expect(plan.entries.map((e) => e.uploaded)).toEqual([true]);
      const result = await guard.apply(plan);
      expect(names(result.deleted)).toEqual(['uploaded.log']);
      for (const kept of ['failed.log', 'never-uploaded.log', 'pending.log'])
        expect(existsSync(at(kept))).toBe(true);
    });

    it('uses the mtime on disk: a file touched since it was recorded is too young', async () => {
      const file = await writeLog(at('touched.log'), 10, NOW - 30 * DAY, { uploadedAt: NOW - 20 * DAY });
      await utimes(file.path, NOW / 1000, NOW / 1000);
      const plan = await guardFor().plan({ candidates: [file], policies: ['age-based'] });
      expect(plan.entries).toEqual([]);
      expect(plan.refused).toMatchObject([{ code: 'changed', policy: 'age-based' }]);
    });

    it('does nothing when disabled', async () => {
      const file = await writeLog(at('old.log'), 10, NOW - 30 * DAY, { uploadedAt: NOW - 20 * DAY });
      const plan = await guardFor({ ageBased: { enabled: false } }).plan({
        candidates: [file],
        policies: ['age-based'],
      });
      expect(plan.entries).toEqual([]);
    });
  });

  describe('emergency', () => {
    // 10 files of 100 bytes on a "disk" of 1000 bytes: 100 % used.
    async function fullDisk(): Promise<Candidate[]> {
      const files: Candidate[] = [];
      for (let i = 0; i < 6; i++) {
        files.push(
          await writeLog(at(`up-${i}.log`), 100, NOW - (20 - i) * DAY, { uploadedAt: NOW - 1 * DAY }),
        );
      }
      for (let i = 0; i < 4; i++) {
        files.push(await writeLog(at(`pending-${i}.log`), 100, NOW - (30 - i) * DAY, { pending: true }));
      }
      return files;
    }
    const options = (capacity: number): Partial<DiskGuardOptions> => ({
      afterUpload: { enabled: false },
      ageBased: { enabled: false },
      disk: { warningThreshold: 0.5, criticalThreshold: 0.8 },
      statfs: fakeDisk(root, capacity),
    });

    it('frees uploaded files oldest first until below the warning threshold, then stops', async () => {
      const candidates = await fullDisk();
      // 1000 bytes on 1250: 80 % used, critical. Below 50 % needs 376 bytes: four uploaded files.
      const guard = guardFor(options(1250));
      const plan = await guard.plan({ candidates, policies: ['emergency'] });
      expect(plan.filesystems).toMatchObject([{ level: 'critical', usedBytes: 1000, bytesToFree: 376 }]);
      expect(names(plan.entries)).toEqual(['up-0.log', 'up-1.log', 'up-2.log', 'up-3.log']);
      expect(plan.entries.every((e) => e.untilHealthy && !e.dataLoss)).toBe(true);
      const result = await guard.apply(plan);
      expect(names(result.deleted)).toEqual(['up-0.log', 'up-1.log', 'up-2.log', 'up-3.log']);
      expect(result.filesystems).toMatchObject([{ usedBytes: 600, healthy: true }]);
    });

    it('deletes not-yet-uploaded files oldest first only when uploaded ones are not enough, logging data loss', async () => {
      const candidates = await fullDisk();
      // 1000 on 1000: 100 % used. Below 50 % needs 501 bytes: all 6 uploaded would do; make it need more.
      const logger = recordingLogger();
      const guard = guardFor({
        ...options(1000),
        disk: { warningThreshold: 0.3, criticalThreshold: 0.8 },
        logger,
      });
      const plan = await guard.plan({ candidates, policies: ['emergency'] });
      // Below 30 % of 1000 needs 701 bytes: 6 uploaded files, then the 2 oldest pending ones.
      expect(names(plan.entries)).toEqual([
        'up-0.log',
        'up-1.log',
        'up-2.log',
        'up-3.log',
        'up-4.log',
        'up-5.log',
        'pending-0.log',
        'pending-1.log',
      ]);
      expect(plan.entries.map((e) => e.dataLoss)).toEqual([
        false,
        false,
        false,
        false,
        false,
        false,
        true,
        true,
      ]);
      const result = await guard.apply(plan);
      expect(result.deleted).toHaveLength(8);
      expect(result.deleted.filter((d) => d.dataLoss).map((d) => [d.path, d.size])).toEqual([
        [at('pending-0.log'), 100],
        [at('pending-1.log'), 100],
      ]);
      expect(logger.lines.filter((l) => l.level === 'error').map((l) => l.message)).toEqual([
        `DATA LOSS: deleted ${at('pending-0.log')} (100 bytes), never uploaded, to free disk space (40.0% used on ${logs})`,
        `DATA LOSS: deleted ${at('pending-1.log')} (100 bytes), never uploaded, to free disk space (30.0% used on ${logs})`,
      ]);
      expect(existsSync(at('pending-2.log'))).toBe(true);
    });

    it('frees only uploaded files at the warning level', async () => {
      const candidates = await fullDisk();
      // 1000 on 1100: 90.9 % used: warning (critical is 95 %), below 30 % is out of reach with uploads alone.
      const guard = guardFor({ ...options(1100), disk: { warningThreshold: 0.3, criticalThreshold: 0.95 } });
      const plan = await guard.plan({ candidates, policies: ['emergency'] });
      expect(plan.filesystems[0]?.level).toBe('warning');
      expect(names(plan.entries)).toEqual([
        'up-0.log',
        'up-1.log',
        'up-2.log',
        'up-3.log',
        'up-4.log',
        'up-5.log',
      ]);
      await guard.apply(plan);
      for (let i = 0; i < 4; i++) expect(existsSync(at(`pending-${i}.log`))).toBe(true);
    });

    it('re-measures before each deletion and skips the rest once the filesystem is healthy', async () => {
      const candidates = await fullDisk();
      const guard = guardFor(options(1250));
      const plan = await guard.plan({ candidates, policies: ['emergency'] });
      expect(plan.entries).toHaveLength(4);
      // Something else (logrotate, an operator) freed 300 bytes between plan and apply.
      await rm(at('pending-3.log'));
      await rm(at('pending-2.log'));
      await rm(at('up-5.log'));
      const result = await guard.apply(plan);
      // 700 of 1250 used: one deletion brings it to 600 (48 %), healthy.
      expect(names(result.deleted)).toEqual(['up-0.log']);
      expect(names(result.skipped)).toEqual(['up-1.log', 'up-2.log', 'up-3.log']);
      expect(result.skipped[0]?.reason).toMatch(/is healthy again \(48\.0% used, 650 bytes free\)/);
    });

    it('stops at the reserve when it is reached before the warning threshold', async () => {
      const candidates = await fullDisk();
      const guard = guardFor({
        ...options(1000),
        disk: { warningThreshold: 0.5, criticalThreshold: 0.8, reservedBytes: 150 },
      });
      const plan = await guard.plan({ candidates, policies: ['emergency'] });
      expect(names(plan.entries)).toEqual(['up-0.log', 'up-1.log']);
    });

    it('does nothing when usage is below the warning threshold, or when disabled', async () => {
      const candidates = await fullDisk();
      expect((await guardFor(options(10_000)).plan({ candidates })).entries).toEqual([]);
      const disabled = guardFor({ ...options(1000), emergency: { enabled: false } });
      const plan = await disabled.plan({ candidates });
      expect(plan.entries).toEqual([]);
      expect(plan.filesystems).toEqual([]);
    });

    it('counts files other policies already planned toward the bytes to free', async () => {
      const candidates = await fullDisk();
      // up-* were uploaded a day ago: keepDays 0 deletes all six, which is enough for the emergency.
      const guard = guardFor({ ...options(1250), afterUpload: { keepDays: 0 } });
      const plan = await guard.plan({ candidates });
      expect(plan.entries.map((e) => e.policy)).toEqual(Array(6).fill('after-upload'));
    });
  });

  describe('bad input and races', () => {
    it('reports a file deleted between plan and apply and still deletes the others', async () => {
      const candidates = [
        await writeLog(at('a.log'), 10, NOW - 30 * DAY, { uploadedAt: NOW - 8 * DAY }),
        await writeLog(at('b.log'), 10, NOW - 30 * DAY, { uploadedAt: NOW - 8 * DAY }),
      ];
      const guard = guardFor();
      const plan = await guard.plan({ candidates, policies: ['after-upload'] });
      await rm(at('a.log'));
      const result = await guard.apply(plan);
      expect(result.refused).toMatchObject([
        { path: at('a.log'), code: 'not-found', policy: 'after-upload' },
      ]);
      expect(names(result.deleted)).toEqual(['b.log']);
    });

    it('refuses a file replaced by another one between plan and apply', async () => {
      const file = await writeLog(at('a.log'), 10, NOW - 30 * DAY, { uploadedAt: NOW - 8 * DAY });
      const guard = guardFor();
      const plan = await guard.plan({ candidates: [file], policies: ['after-upload'] });
      // Same name and size, different file: the inode may even be reused, the mtime tells them apart.
      await rm(file.path);
      await writeLog(file.path, 10, NOW - 29 * DAY);
      const result = await guard.apply(plan);
      expect(result.deleted).toEqual([]);
      expect(result.refused).toMatchObject([{ code: 'changed' }]);
      expect(existsSync(file.path)).toBe(true);
    });

    it('reports a failing unlink as an error and carries on', async () => {
      const candidates = [
        await writeLog(at('locked.log'), 10, NOW - 30 * DAY, { uploadedAt: NOW - 8 * DAY }),
        await writeLog(at('fine.log'), 10, NOW - 30 * DAY, { uploadedAt: NOW - 8 * DAY }),
      ];
      const { unlink } = await import('node:fs/promises');
      const guard = guardFor({
        fs: {
          unlink: async (path) => {
            if (path.endsWith('locked.log')) {
              throw Object.assign(new Error(`EACCES: permission denied, unlink '${path}'`), {
                code: 'EACCES',
              });
            }
            await unlink(path);
          },
        },
      });
      const result = await guard.apply(await guard.plan({ candidates }));
      expect(names(result.deleted)).toEqual(['fine.log']);
      expect(result.errors).toHaveLength(1);
      expect(result.errors[0]).toMatchObject({
        name: 'DiskGuardError',
        code: 'UNLINK_FAILED',
        path: at('locked.log'),
      });
      expect(result.errors[0]?.message).toContain('EACCES');
      expect((result.errors[0]?.cause as { code: string }).code).toBe('EACCES');
    });

    it('reports a stat permission error as a refusal', async () => {
      const file = await writeLog(at('a.log'), 10, NOW - 30 * DAY, { uploadedAt: NOW - 8 * DAY });
      const { lstat } = await import('node:fs/promises');
      const guard = guardFor({
        fs: {
          lstat: async (path): Promise<FileStats> => {
            if (path === file.path)
              throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
            return lstat(path);
          },
        },
      });
      const plan = await guard.plan({ candidates: [file] });
      expect(plan.refused).toMatchObject([
        { code: 'stat-failed', reason: `${file.path} cannot be examined: EACCES: permission denied` },
      ]);
    });

    it('reports a missing directory and malformed candidates without throwing', async () => {
      const guard = createDiskGuard({
        directories: [
          { path: logs, source: 'ros' },
          { path: join(root, 'missing'), source: 'gone' },
        ],
        clock,
        logger: silent,
        statfs: fakeDisk(root, 1000),
      });
      const usage = await guard.usage();
      expect(usage.filesystems).toHaveLength(1);
      expect(usage.problems).toMatchObject([{ code: 'DIRECTORY_UNAVAILABLE', path: join(root, 'missing') }]);
      const plan = await guard.plan({
        candidates: [
          { path: join(root, 'missing/a.log'), size: 1, mtimeMs: 0, pending: false, uploadedAt: 0 },
          { path: at('x.log'), size: -1, mtimeMs: 0, pending: false },
          { path: at('y.log'), size: 1, mtimeMs: 0 } as Candidate,
        ],
      });
      expect(plan.refused.map((r) => r.code)).toEqual([
        'invalid-candidate',
        'invalid-candidate',
        'directory-missing',
      ]);
      expect(plan.problems).toMatchObject([{ code: 'DIRECTORY_UNAVAILABLE' }]);
    });

    it('merges duplicate candidates, keeping the file when any copy says it is pending', async () => {
      const file = await writeLog(at('a.log'), 10, NOW - 30 * DAY, { uploadedAt: NOW - 8 * DAY });
      const plan = await guardFor().plan({ candidates: [file, { ...file, pending: true }] });
      expect(plan.entries).toEqual([]);
    });

    it('reports a statfs failure as a problem', async () => {
      const file = await writeLog(at('a.log'), 10, NOW, { uploadedAt: NOW });
      const guard = guardFor({
        statfs: async () => {
          throw Object.assign(new Error('EIO'), { code: 'EIO' });
        },
      });
      const plan = await guard.plan({ candidates: [file], policies: ['emergency'] });
      expect(plan.problems).toMatchObject([{ code: 'STATFS_FAILED', path: logs }]);
      expect(plan.entries).toEqual([]);
    });

    it('skips the remaining entries when aborted', async () => {
      const file = await writeLog(at('a.log'), 10, NOW - 30 * DAY, { uploadedAt: NOW - 8 * DAY });
      const guard = guardFor();
      const plan = await guard.plan({ candidates: [file] });
      const result = await guard.apply(plan, { signal: AbortSignal.abort() });
      expect(result.skipped).toEqual([{ path: file.path, policy: 'after-upload', reason: 'aborted' }]);
      expect(existsSync(file.path)).toBe(true);
    });

    it('throws a TypeError for input that is not a candidate list or a plan', async () => {
      const guard = guardFor();
      await expect(guard.plan({} as never)).rejects.toThrow(
        new TypeError('Expected `input.candidates` to be an array, got undefined'),
      );
      await expect(guard.plan({ candidates: [], policies: ['nope' as never] })).rejects.toThrow(TypeError);
      await expect(guard.apply({} as never)).rejects.toThrow(TypeError);
    });
  });

  describe('usage()', () => {
    it('measures each filesystem once and lists the directories on it', async () => {
      await mkdir(join(root, 'other'));
      const statfs = fakeDisk(root, 4000);
      const guard = createDiskGuard({
        directories: [
          { path: logs, source: 'ros' },
          { path: join(root, 'other'), source: 'other' },
        ],
        statfs,
        logger: silent,
      });
      const usage = await guard.usage();
      expect(statfs.calls).toBe(1);
      expect(usage.filesystems).toMatchObject([
        { directories: [logs, join(root, 'other')], totalBytes: 4000, level: 'ok' },
      ]);
    });

    it('measures directories on different devices separately', async () => {
      await mkdir(join(root, 'other'));
      const { stat } = await import('node:fs/promises');
      const seen: string[] = [];
      const guard = createDiskGuard({
        directories: [
          { path: logs, source: 'ros' },
          { path: join(root, 'other'), source: 'other' },
        ],
        fs: {
          stat: async (path) => {
            const stats = await stat(path);
            return Object.assign(stats, { dev: path.endsWith('other') ? 2 : 1 });
          },
        },
        statfs: async (path) => {
          seen.push(path);
          return { bsize: 4096, blocks: 100, bfree: 5, bavail: 5 };
        },
        logger: silent,
      });
      const usage = await guard.usage();
      expect(seen).toEqual([logs, join(root, 'other')]);
      expect(usage.filesystems.map((f) => [f.device, f.directories, f.level])).toEqual([
        [1, [logs], 'critical'],
        [2, [join(root, 'other')], 'critical'],
      ]);
    });
  });
});
