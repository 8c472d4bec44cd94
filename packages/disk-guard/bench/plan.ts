// Planning over 100,000 files: the pure decisions alone, then plan() with the real safety gate (lstat + realpath
// per selected file) on a real tree, then the /proc open-file scan. Run: pnpm --filter @tvm/disk-guard bench
import { execFileSync } from 'node:child_process';
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  realpathSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  createDiskGuard,
  orderForPressure,
  scanProcForWriters,
  selectAfterUpload,
  selectAgeBased,
} from '@tvm/disk-guard';
import type { Candidate } from '@tvm/disk-guard';

const FILES = 100_000;
const PER_DIR = 1000;
const DAY = 86_400_000;
const now = Date.now();
const silent = { debug() {}, info() {}, warn() {}, error() {} };

async function time<T>(label: string, run: () => Promise<T> | T): Promise<T> {
  const start = performance.now();
  const result = await run();
  console.log(`${label.padEnd(58)} ${(performance.now() - start).toFixed(1).padStart(8)} ms`);
  return result;
}

// This machine is shared (other suites run beside the bench), so each planning figure is the best and the median of
// three runs, and the CPU time (user + system) of the median run is printed too: unlike wall time it does not grow
// with the load average.
async function repeat<T>(label: string, run: () => Promise<T> | T, budgetMs?: number): Promise<T> {
  const samples: { wall: number; cpu: number }[] = [];
  let result: T | undefined;
  for (let i = 0; i < 3; i++) {
    const cpuStart = process.cpuUsage();
    const start = performance.now();
    result = await run();
    const wall = performance.now() - start;
    const cpu = process.cpuUsage(cpuStart);
    samples.push({ wall, cpu: (cpu.user + cpu.system) / 1000 });
  }
  samples.sort((a, b) => a.wall - b.wall);
  const best = samples[0]?.wall ?? 0;
  const median = samples[1] ?? { wall: 0, cpu: 0 };
  const verdict =
    budgetMs === undefined ? '' : `  budget ${budgetMs} ms: ${median.wall < budgetMs ? 'ok' : 'OVER (wall)'}`;
  console.log(
    `${label.padEnd(52)} best ${ms(best)}, median ${ms(median.wall)} (cpu ${ms(median.cpu)})${verdict}`,
  );
  return result as T;
}

function ms(value: number): string {
  return `${value.toFixed(0).padStart(5)} ms`;
}

// 40 % uploaded 10 days ago (after-upload due), 30 % uploaded yesterday, 20 % pending, 10 % failed and 20 days old
// (age-based due). Only the failed ones need an old mtime on disk; the others keep the mtime they were written with.
function describeFile(i: number, path: string, mtimeMs: number): Candidate {
  const kind = i % 10;
  if (kind < 4) return { path, size: 100, mtimeMs, uploadedAt: now - 10 * DAY, pending: false };
  if (kind < 7) return { path, size: 100, mtimeMs, uploadedAt: now - DAY, pending: false };
  if (kind < 9) return { path, size: 100, mtimeMs, pending: true };
  return { path, size: 100, mtimeMs: now - 20 * DAY, pending: false };
}

const root = realpathSync(mkdtempSync(join(tmpdir(), 'disk-guard-bench-')));
try {
  const logs = join(root, 'logs');
  const candidates: Candidate[] = [];
  await time(`setup: write ${FILES.toLocaleString('en')} files of 100 bytes`, () => {
    for (let i = 0; i < FILES; i++) {
      const dir = join(logs, `run-${Math.floor(i / PER_DIR)}`);
      if (i % PER_DIR === 0) mkdirSync(dir, { recursive: true });
      const path = join(dir, `file-${i}.log`);
      writeFileSync(path, Buffer.alloc(100));
      const candidate = describeFile(i, path, lstatSync(path).mtimeMs);
      if (i % 10 === 9) utimesSync(path, candidate.mtimeMs / 1000, candidate.mtimeMs / 1000);
      candidates.push({ ...candidate, mtimeMs: lstatSync(path).mtimeMs });
    }
  });
  // Flush the freshly written tree first: otherwise writeback of 100k new inodes competes with the timed lstat calls.
  await time('setup: sync', () => execFileSync('sync'));
  const [load1] = loadavg();
  console.log(
    `machine: ${availableParallelism()} cores, load average ${load1?.toFixed(2)} (figures scale with it)`,
  );

  console.log('\npure decisions (no I/O)');
  const afterUpload = await repeat('  selectAfterUpload', () =>
    selectAfterUpload(candidates, { keepDays: 7, now }),
  );
  const ageBased = await repeat('  selectAgeBased', () =>
    selectAgeBased(candidates, { maxAgeDays: 14, now }),
  );
  await repeat('  orderForPressure (critical, sorts all 100k)', () =>
    orderForPressure(candidates, 'critical'),
  );
  console.log(`  selected: after-upload ${afterUpload.length}, age-based ${ageBased.length}`);

  const options = {
    directories: [{ path: logs, source: 'ros' }],
    afterUpload: { keepDays: 7 },
    ageBased: { maxAgeDays: 14 },
    logger: silent,
  };

  console.log('\nplan() with the real safety gate (lstat + cached realpath per selected file)');
  const guard = createDiskGuard(options);
  const plan = await repeat(
    '  after-upload + age-based, disk healthy (50k gated)',
    () => guard.plan({ candidates }),
    2000,
  );
  console.log(
    `  entries ${plan.entries.length}, refused ${plan.refused.length}, open-file check: ${plan.openFileCheck}`,
  );

  // A disk that claims to be full and never gets better: the emergency walk gates every remaining candidate.
  const full = createDiskGuard({
    ...options,
    afterUpload: { enabled: false },
    ageBased: { enabled: false },
    statfs: async () => ({ bsize: 4096, blocks: 1_000_000_000, bfree: 0, bavail: 0 }),
  });
  const worst = await repeat(
    '  emergency, full disk (worst case: all 100k gated)',
    () => full.plan({ candidates }),
    2000,
  );
  console.log(
    `  entries ${worst.entries.length} (data loss ${worst.entries.filter((e) => e.dataLoss).length})`,
  );

  console.log('\nopen-for-writing detection');
  const writers = await time('  /proc scan (once per plan/apply)', () => scanProcForWriters([logs]));
  const pids = readdirSync('/proc').filter((n) => /^\d+$/.test(n)).length;
  console.log(`  ${pids} processes scanned, ${writers?.size ?? 'unknown'} writers below the log directory`);

  // Unlinking is disk writes, not planning: timed on a slice so the bench stays short on a busy machine.
  console.log('\napply() (gate again + unlink)');
  const slice = { ...plan, entries: plan.entries.slice(0, 5000) };
  const start = performance.now();
  const result = await guard.apply(slice);
  const elapsed = performance.now() - start;
  console.log(
    `  apply ${result.deleted.length} deletions`.padEnd(58) +
      ` ${elapsed.toFixed(1).padStart(8)} ms (${((elapsed * 1000) / result.deleted.length).toFixed(0)} us per file)`,
  );
} finally {
  rmSync(root, { recursive: true, force: true });
}
