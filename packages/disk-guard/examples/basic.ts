import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDiskGuard } from '@tvm/disk-guard';
import type { Candidate } from '@tvm/disk-guard';

const DAY = 86_400_000;
const now = Date.now();
const root = await mkdtemp(join(tmpdir(), 'disk-guard-example-'));
const logs = join(root, 'ros');
await mkdir(logs);

// Writes a log file with a given age and returns it as the agent would describe it.
async function logFile(
  name: string,
  bytes: number,
  ageDays: number,
  extra: Partial<Candidate>,
): Promise<Candidate> {
  const path = join(logs, name);
  const mtimeMs = now - ageDays * DAY;
  await writeFile(path, Buffer.alloc(bytes));
  await utimes(path, mtimeMs / 1000, mtimeMs / 1000);
  return { path, size: bytes, mtimeMs, pending: false, ...extra };
}

const guard = createDiskGuard({
  directories: [
    { path: logs, source: 'ros' },
    { path: '/var/log', source: 'syslog', pattern: 'syslog.[1-9]*', recursive: false, allowDeletion: false },
  ],
  afterUpload: { enabled: true, keepDays: 7 },
  ageBased: { enabled: true, maxAgeDays: 14 },
  disk: { reservedBytes: 0, warningThreshold: 0.9, criticalThreshold: 0.95 },
});

const candidates: Candidate[] = [
  await logFile('uploaded-last-week.log', 1000, 9, { uploadedAt: now - 8 * DAY }), // registry: uploaded 8 days ago
  await logFile('uploaded-yesterday.log', 2000, 2, { uploadedAt: now - 1 * DAY }), // kept for keep_days
  await logFile('still-queued.log', 3000, 20, { pending: true }), // old, but waiting for upload: never age-deleted
];

const plan = await guard.plan({ candidates, policies: ['after-upload', 'age-based'] });
for (const entry of plan.entries)
  console.log(`would delete ${entry.path.slice(logs.length + 1)}: ${entry.policy}`);

const result = await guard.apply(plan);
console.log(`deleted ${result.deleted.length} file(s), ${result.freedBytes} bytes`);

const verdict = await guard.checkDeletable('/var/log/syslog.1');
if (!verdict.ok) console.log(`refused (${verdict.code}): ${verdict.reason}`);

await rm(root, { recursive: true, force: true });
