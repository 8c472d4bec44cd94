/**
 * `pnpm --filter @tvm/agent bench:footprint`: the daemon's own costs, the real `tvm-upload run` process of the
 * vehicle build (scripts/bundle.ts) with its launcher's node flags (those of src/cli.ts's hashbang), against s3rver
 * on loopback.
 * - `small`: N x 1 KB files detected, uploaded and registered end to end: wall time, CPU per file, peak RSS.
 *   With `--cpu-prof <dir>` the daemon writes a V8 CPU profile there (open it in Chrome's DevTools, or
 *   `--cpu-prof-summary` prints the top functions and packages by self time).
 * - `scan`: a start-up scan of 20,000 files, uploading them: peak RSS (VmHWM) until all are registered.
 * - `queued`: 100,000 files found and queued behind an outage (every connection refused): peak RSS once all are
 *   queued and the pipeline has paused, and the idle CPU over a few seconds after.
 * Usage: pnpm --filter @tvm/agent bench:footprint [-- --only small,scan,queued --small-files 10000
 *   --scan-files 20000 --queued-files 100000 --concurrency N --cpu-prof DIR --cpu-prof-summary
 *   --node-flags '<flags instead of the launcher's>']
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startFaultProxy, startLocalS3 } from '@tvm/test-utils';
import { bundleAgent } from '../scripts/bundle.js';
import { writeBenchConfig } from './daemon-config.js';

const { values } = parseArgs({
  // `pnpm run x -- --flag` passes the `--` on.
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    only: { type: 'string', default: 'small,scan,queued' },
    'small-files': { type: 'string', default: '10000' },
    'scan-files': { type: 'string', default: '20000' },
    'queued-files': { type: 'string', default: '100000' },
    concurrency: { type: 'string' },
    'cpu-prof': { type: 'string' },
    'cpu-prof-summary': { type: 'boolean', default: false },
    'node-flags': { type: 'string' },
  },
});
const ONLY = (values.only ?? '').split(',');
const agentDir = fileURLToPath(new URL('..', import.meta.url));
// The vehicle build's bundle, built in main(): what bin/tvm-upload runs, with the same flags.
let bundle = '';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

/** The node flags of the launcher: src/cli.ts's hashbang (`#!/usr/bin/env -S node <flags>`). */
async function launcherFlags(): Promise<string[]> {
  if (values['node-flags'] !== undefined) return values['node-flags'].split(/\s+/).filter(Boolean);
  const first = (await readFile(join(agentDir, 'src', 'cli.ts'), 'utf8')).split('\n')[0] ?? '';
  return first
    .replace(/^#!\/usr\/bin\/env -S node\s*/, '')
    .split(/\s+/)
    .filter(Boolean);
}

/** `count` files of 1 KB in 50 directories, an hour old (stable at once). */
async function makeTree(root: string, count: number): Promise<void> {
  const old = new Date(Date.now() - 3_600_000);
  for (let i = 0; i < 50; i++) await mkdir(join(root, `run-${i}`), { recursive: true });
  const one = async (i: number) => {
    const file = join(root, `run-${i % 50}`, `node-${String(i).padStart(6, '0')}.log`);
    await writeFile(file, `${i} ${'log line '.repeat(113)}\n`.slice(0, 1024));
    await utimes(file, old, old);
  };
  for (let i = 0; i < count; i += 32) {
    await Promise.all(Array.from({ length: Math.min(32, count - i) }, (_, j) => one(i + j)));
  }
}

function writeConfig(state: string, logs: string, endpoint: string, concurrency?: number): Promise<string> {
  return writeBenchConfig({
    file: join(state, 'config.yaml'),
    awsDir: join(state, 'aws'),
    state,
    logs,
    endpoint,
    ...(concurrency === undefined ? {} : { s3: { concurrency } }),
  });
}

/** utime + stime in seconds and the peak RSS (VmHWM) of a live process. */
async function usage(pid: number): Promise<{ cpuSeconds: number; peakRssMiB: number; rssMiB: number }> {
  const stat = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? [];
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024;
  return {
    cpuSeconds: (Number(stat[11]) + Number(stat[12])) / 100,
    peakRssMiB: kib('VmHWM'),
    rssMiB: kib('VmRSS'),
  };
}

interface Daemon {
  pid: number;
  /** Lines of stdout and stderr seen so far matching `pattern`. */
  count(pattern: string): number;
  exited(): number | null;
  output(): string;
  stop(): Promise<void>;
}

async function startDaemon(configFile: string, extraFlags: string[] = []): Promise<Daemon> {
  const flags = [...(await launcherFlags()), ...extraFlags];
  const child = spawn(process.execPath, [...flags, bundle, 'run', '--config', configFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const counts = new Map<string, number>();
  const patterns = new Set<string>();
  let tail = '';
  let errors = '';
  child.stdout.on('data', (chunk: Buffer) => {
    const lines = (tail + chunk.toString()).split('\n');
    tail = lines.pop() ?? '';
    for (const line of lines)
      for (const p of patterns) if (line.includes(p)) counts.set(p, (counts.get(p) ?? 0) + 1);
  });
  // Warnings and errors (an outage's "Destination unreachable" among them) come on stderr.
  child.stderr.on('data', (chunk: Buffer) => {
    const text = chunk.toString();
    for (const p of patterns) if (text.includes(p)) counts.set(p, (counts.get(p) ?? 0) + 1);
    if (errors.length < 8000) errors += text;
  });
  return {
    pid: child.pid as number,
    count(pattern) {
      patterns.add(pattern);
      return counts.get(pattern) ?? 0;
    },
    exited: () => child.exitCode,
    output: () => errors,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      if (child.exitCode === null) await Promise.race([exited, sleep(20_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/** Waits until `done()` or the daemon exits or the deadline passes; samples its usage meanwhile. */
async function until(daemon: Daemon, done: () => boolean | Promise<boolean>, seconds: number, what: string) {
  const deadline = Date.now() + seconds * 1000;
  while (!(await done())) {
    if (daemon.exited() !== null)
      throw new Error(`daemon exited ${daemon.exited()} before ${what}: ${daemon.output().slice(0, 800)}`);
    if (Date.now() > deadline) throw new Error(`daemon: not ${what} after ${seconds} s`);
    await sleep(50);
  }
}

async function queuedCount(state: string): Promise<number> {
  try {
    const parsed = JSON.parse(await readFile(join(state, 'queue.json'), 'utf8')) as { files: unknown[] };
    return parsed.files.length;
  } catch {
    return 0;
  }
}

/** Top functions and packages by self time of a `.cpuprofile`. */
async function summarise(dir: string): Promise<void> {
  const name = (await readdir(dir))
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort()
    .pop();
  if (name === undefined) return console.log(`  no .cpuprofile in ${dir}`);
  interface Node {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    hitCount?: number;
  }
  const profile = JSON.parse(await readFile(join(dir, name), 'utf8')) as {
    nodes: Node[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(profile.nodes.map((n) => [n.id, n] as const));
  const fns = new Map<string, number>();
  const packages = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const dt = profile.timeDeltas[i] ?? 0;
    if (!node) return;
    total += dt;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.replace(/^file:\/\//, '');
    const fn = `${functionName || '(anonymous)'} ${file.split('/').slice(-2).join('/')}:${lineNumber + 1}`;
    fns.set(fn, (fns.get(fn) ?? 0) + dt);
    const pkg =
      /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules)/.exec(file)?.[1] ??
      /(packages|apps)\/([^/]+)\//.exec(file)?.[2] ??
      (file.startsWith('node:') ? 'node:internal' : functionName.startsWith('(') ? functionName : 'other');
    packages.set(pkg, (packages.get(pkg) ?? 0) + dt);
  });
  const top = (map: Map<string, number>, n: number) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, v]) => `    ${((v / total) * 100).toFixed(1).padStart(5)} %  ${k}`)
      .join('\n');
  console.log(`  profile ${join(dir, name)}: ${(total / 1e6).toFixed(1)} s sampled`);
  console.log(`  by package:\n${top(packages, 12)}\n  by function (self time):\n${top(fns, 30)}`);
}

async function small(root: string, endpoint: string, files: number): Promise<void> {
  const logs = join(root, 'small-logs');
  await makeTree(logs, files);
  const state = join(root, 'small-state');
  await mkdir(state);
  const concurrency = values.concurrency === undefined ? undefined : Number(values.concurrency);
  const profileDir = values['cpu-prof'];
  if (profileDir !== undefined) await mkdir(profileDir, { recursive: true });
  const t0 = process.hrtime.bigint();
  const daemon = await startDaemon(
    await writeConfig(state, logs, endpoint, concurrency),
    profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`],
  );
  try {
    await until(daemon, () => daemon.count('Uploaded ') >= files, Math.max(120, files / 20), 'done');
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const u = await usage(daemon.pid);
    console.log(
      `small: ${files} x 1 KB end to end (s3.concurrency ${concurrency ?? 'default'}): ${seconds.toFixed(2)} s, ` +
        `${(files / seconds).toFixed(0)} files/s, CPU ${u.cpuSeconds.toFixed(2)} s = ` +
        `${((u.cpuSeconds / files) * 1000).toFixed(3)} CPU-ms/file, peak RSS ${u.peakRssMiB.toFixed(0)} MiB (load ${load()})`,
    );
  } finally {
    await daemon.stop();
  }
  if (profileDir !== undefined && values['cpu-prof-summary']) await summarise(profileDir);
  await rm(logs, { recursive: true, force: true });
}

async function scan(root: string, endpoint: string, files: number): Promise<void> {
  const logs = join(root, 'scan-logs');
  await makeTree(logs, files);
  const state = join(root, 'scan-state');
  await mkdir(state);
  const t0 = Date.now();
  const daemon = await startDaemon(await writeConfig(state, logs, endpoint));
  try {
    let peak = 0;
    await until(
      daemon,
      async () => {
        peak = Math.max(peak, (await usage(daemon.pid)).peakRssMiB);
        return daemon.count('Uploaded ') >= files;
      },
      Math.max(180, files / 20),
      'done',
    );
    const u = await usage(daemon.pid);
    console.log(
      `scan: start-up scan of ${files} files, all uploaded in ${((Date.now() - t0) / 1000).toFixed(1)} s: ` +
        `peak RSS ${u.peakRssMiB.toFixed(0)} MiB, RSS at the end ${u.rssMiB.toFixed(0)} MiB (load ${load()})`,
    );
  } finally {
    await daemon.stop();
  }
  await rm(logs, { recursive: true, force: true });
}

async function queued(root: string, targetPort: number, files: number): Promise<void> {
  const logs = join(root, 'queued-logs');
  await makeTree(logs, files);
  const proxy = await startFaultProxy({ targetPort, mode: { kind: 'refuse' } });
  const state = join(root, 'queued-state');
  await mkdir(state);
  const t0 = Date.now();
  const daemon = await startDaemon(await writeConfig(state, logs, proxy.endpoint));
  try {
    let checked = 0;
    await until(
      daemon,
      async () => {
        if (daemon.count('Destination unreachable') === 0 || Date.now() - checked < 1000) return false;
        checked = Date.now();
        return (await queuedCount(state)) >= files;
      },
      Math.max(180, files / 100),
      'all queued',
    );
    const queuedAfter = (Date.now() - t0) / 1000;
    const before = await usage(daemon.pid);
    await sleep(10_000);
    const after = await usage(daemon.pid);
    console.log(
      `queued: ${files} files queued behind an outage in ${queuedAfter.toFixed(1)} s: peak RSS ` +
        `${after.peakRssMiB.toFixed(0)} MiB, RSS ${after.rssMiB.toFixed(0)} MiB; idle CPU over 10 s ` +
        `${(((after.cpuSeconds - before.cpuSeconds) / 10) * 100).toFixed(1)} % of a core (load ${load()})`,
    );
  } finally {
    await daemon.stop();
    await proxy.close();
  }
  await rm(logs, { recursive: true, force: true });
}

async function main(): Promise<void> {
  console.log(
    `node ${process.version}; launcher flags: ${(await launcherFlags()).join(' ')}; load ${load()}`,
  );
  const root = await mkdtemp(join(tmpdir(), 'agent-footprint-'));
  bundle = await bundleAgent(join(root, 'vehicle'));
  await mkdir(join(root, 's3'));
  const s3 = await startLocalS3({ buckets: ['bench'], directory: join(root, 's3') });
  try {
    if (ONLY.includes('small')) await small(root, s3.endpoint, Number(values['small-files']));
    if (ONLY.includes('scan')) await scan(root, s3.endpoint, Number(values['scan-files']));
    if (ONLY.includes('queued')) await queued(root, s3.port, Number(values['queued-files']));
  } finally {
    await s3.close();
    await rm(root, { recursive: true, force: true });
  }
}

await main();
