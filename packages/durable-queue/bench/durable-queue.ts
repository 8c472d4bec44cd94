// Benchmark (the package script builds dist first, for the open test's child process): durable group commit against a naive rewrite-and-fsync-per-change baseline, and opening a queue of
// 100,000 entries. Prints its figures; nothing here is asserted. Runs on the real disk (./.bench-tmp), not /tmp.
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { openStateStore } from '../src/index.js';
import { serialiseList } from '../src/formats.js';

const ENTRIES = 10_000;
const CONCURRENCY = 100;
const OPEN_ENTRIES = 100_000;
/** The baseline writes for one operation in this many; its cost per write grows with the queue, so sampling evenly over the run keeps the average honest. */
const BASELINE_SAMPLE_EVERY = 40;

const root = fileURLToPath(new URL('../.bench-tmp/', import.meta.url));
await mkdir(root, { recursive: true });

const entryFor = (i: number) => ({
  filepath: `/home/autoware/.ros/log/2025-10-20-15-30-00-123456-host-6789/node_${i}/launch.log`,
  size: 1_048_576 + i,
  mtimeMs: 1_760_970_000_000 + i * 1000,
  source: 'ros',
});

async function runWorkers(count: number, work: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) await work(next++);
    }),
  );
}

async function benchStore(): Promise<{ seconds: number; addSeconds: number; removeSeconds: number }> {
  const dir = await mkdtemp(join(root, 'store-'));
  const store = await openStateStore({ directory: dir });
  const start = performance.now();
  await runWorkers(ENTRIES, (i) => store.queue.add(entryFor(i)));
  const added = performance.now();
  await runWorkers(ENTRIES, (i) => store.queue.remove(entryFor(i).filepath));
  const end = performance.now();
  await store.close();
  await rm(dir, { recursive: true, force: true });
  return {
    seconds: (end - start) / 1000,
    addSeconds: (added - start) / 1000,
    removeSeconds: (end - added) / 1000,
  };
}

/** What the old daemon did, plus the fsync it lacked: rewrite the whole file for every change. */
async function benchBaseline(): Promise<{ opsPerSecond: number; sampled: number; estimatedSeconds: number }> {
  const dir = await mkdtemp(join(root, 'naive-'));
  const file = join(dir, 'queue.json');
  const files = new Map<string, object>();
  let writeSeconds = 0;
  let sampled = 0;
  const change = async (op: number) => {
    if (op % BASELINE_SAMPLE_EVERY !== 0) return;
    const start = performance.now();
    const handle = await open(file, 'w');
    await handle.writeFile(JSON.stringify({ files: [...files.values()] }));
    await handle.sync();
    await handle.close();
    writeSeconds += (performance.now() - start) / 1000;
    sampled++;
  };
  for (let i = 0; i < ENTRIES; i++) {
    const entry = entryFor(i);
    files.set(entry.filepath, { ...entry, detectedAt: Date.now(), attempts: 0, nextAttemptAt: 0 });
    await change(i);
  }
  for (let i = 0; i < ENTRIES; i++) {
    files.delete(entryFor(i).filepath);
    await change(ENTRIES + i);
  }
  await rm(dir, { recursive: true, force: true });
  const opsPerSecond = sampled / writeSeconds;
  return { opsPerSecond, sampled, estimatedSeconds: (2 * ENTRIES) / opsPerSecond };
}

/**
 * Opens a queue of 100,000 entries in a fresh process, so its RSS is the store's and not this benchmark's. The
 * process runs once with Node's defaults and once with the flag the tvm-upload agent ships with
 * (`--max-semi-space-size=2`, a smaller young generation), which is how the store runs on vehicles.
 */
async function benchOpen(nodeFlags: string[]): Promise<{
  openMs: number;
  rssBeforeMb: number;
  rssAfterMb: number;
  bytes: number;
}> {
  const dir = await mkdtemp(join(root, 'open-'));
  const lines: string[] = [];
  const now = Date.now();
  for (let i = 0; i < OPEN_ENTRIES; i++) {
    lines.push(JSON.stringify({ ...entryFor(i), detectedAt: now, attempts: i % 3, nextAttemptAt: 0 }));
  }
  const text = serialiseList(lines);
  await writeFile(join(dir, 'queue.json'), text);
  const child = fileURLToPath(new URL('./open-child.mjs', import.meta.url));
  const out = execFileSync(process.execPath, [...nodeFlags, child, dir], { encoding: 'utf8' });
  await rm(dir, { recursive: true, force: true });
  return {
    ...(JSON.parse(out) as { openMs: number; rssBeforeMb: number; rssAfterMb: number }),
    bytes: text.length,
  };
}

const store = await benchStore();
const storeOps = (2 * ENTRIES) / store.seconds;
const baseline = await benchBaseline();
const opened = await benchOpen([]);
const openedAsAgent = await benchOpen(['--max-semi-space-size=2']);
await rm(root, { recursive: true, force: true });

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
console.log(
  `durable-queue benchmark (Node ${process.version}, ${ENTRIES.toLocaleString('en-US')} entries, ${CONCURRENCY} concurrent callers)`,
);
console.log(
  `store:    ${fmt(ENTRIES)} adds + ${fmt(ENTRIES)} removes, each awaited until durable: ${fmt(store.seconds, 2)} s ` +
    `(adds ${fmt(store.addSeconds, 2)} s, removes ${fmt(store.removeSeconds, 2)} s) = ${fmt(storeOps)} ops/s`,
);
console.log(
  `baseline: rewrite + fsync of the whole file per change: ${fmt(baseline.opsPerSecond)} ops/s ` +
    `(${fmt(baseline.sampled)} writes sampled evenly over the same run; the full run would take ~${fmt(baseline.estimatedSeconds, 1)} s)`,
);
console.log(
  `ratio:    ${fmt(storeOps / baseline.opsPerSecond, 1)}x the baseline (target >= 20x, total < 5 s)`,
);
console.log(
  `open:     ${fmt(OPEN_ENTRIES)} entries (${fmt(opened.bytes / 1_048_576, 1)} MiB): ${fmt(opened.openMs)} ms, ` +
    `RSS ${fmt(opened.rssAfterMb)} MB (process before opening: ${fmt(opened.rssBeforeMb)} MB; target < 1 s, < 100 MB)`,
);
console.log(
  `          as the agent runs it (--max-semi-space-size=2): ${fmt(openedAsAgent.openMs)} ms, ` +
    `RSS ${fmt(openedAsAgent.rssAfterMb)} MB (before opening: ${fmt(openedAsAgent.rssBeforeMb)} MB)`,
);
