import { execFileSync } from 'node:child_process';
import { existsSync, statfsSync } from 'node:fs';
import { mkdir, mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDiskGuard } from '../src/index.js';
import type { Candidate } from '../src/index.js';
import { DAY, recordingLogger, writeLog } from './helpers.js';

const MiB = 1024 * 1024;

// A real filesystem that really fills up: an 8 MiB tmpfs. Mounting needs root (or CAP_SYS_ADMIN); where it is
// refused the test is skipped with the reason printed, and the same policy is covered with an injected statfs in
// guard.test.ts.
describe('emergency policy on a real 8 MiB tmpfs', () => {
  let mountPoint = '';
  let mounted = false;
  let why = '';

  beforeAll(async () => {
    mountPoint = await realpath(await mkdtemp(join(tmpdir(), 'disk-guard-tmpfs-')));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mountPoint], { stdio: 'pipe' });
      mounted = true;
    } catch (error) {
      why = error instanceof Error ? (error.message.split('\n')[0] ?? error.message) : String(error);
      console.warn(`Skipping the tmpfs test: mounting a tmpfs is not permitted here (${why})`);
    }
  });

  afterAll(async () => {
    if (mounted) execFileSync('umount', [mountPoint]);
    await rm(mountPoint, { recursive: true, force: true });
  });

  it('frees uploaded files, then the oldest pending one, re-measuring the real filesystem', async (ctx) => {
    if (!mounted) return ctx.skip(`tmpfs mount refused: ${why}`);
    const logs = join(mountPoint, 'logs');
    await mkdir(logs);
    const now = Date.now();
    const candidates: Candidate[] = [];
    for (let i = 0; i < 4; i++) {
      candidates.push(
        await writeLog(join(logs, `up-${i}.log`), MiB, now - (10 - i) * DAY, { uploadedAt: now - DAY }),
      );
    }
    for (let i = 0; i < 3; i++) {
      candidates.push(
        await writeLog(join(logs, `pending-${i}.log`), MiB, now - (20 - i) * DAY, { pending: true }),
      );
    }
    const logger = recordingLogger();
    const guard = createDiskGuard({
      directories: [{ path: logs, source: 'ros' }],
      afterUpload: { enabled: false },
      ageBased: { enabled: false },
      disk: { warningThreshold: 0.3, criticalThreshold: 0.8 },
      logger,
    });

    const before = await guard.usage();
    expect(before.filesystems).toHaveLength(1);
    expect(before.filesystems[0]).toMatchObject({ level: 'critical', path: logs, totalBytes: 8 * MiB });

    const plan = await guard.plan({ candidates, policies: ['emergency'] });
    const result = await guard.apply(plan);
    expect(result.deleted.map((d) => d.path.slice(logs.length + 1))).toEqual([
      'up-0.log',
      'up-1.log',
      'up-2.log',
      'up-3.log',
      'pending-0.log',
    ]);
    expect(result.deleted.filter((d) => d.dataLoss)).toHaveLength(1);
    expect(logger.lines.filter((l) => l.level === 'error')).toHaveLength(1);
    expect(existsSync(join(logs, 'pending-1.log'))).toBe(true);
    expect(existsSync(join(logs, 'pending-2.log'))).toBe(true);

    const real = statfsSync(logs);
    const usedFraction = (real.blocks - real.bfree) / (real.blocks - real.bfree + real.bavail);
    expect(usedFraction).toBeLessThan(0.3);
    expect(result.filesystems[0]?.usedFraction).toBeCloseTo(usedFraction);
  });
});
