/**
 * `pnpm bench:compare`: the daemon (the real `tvm-upload run` process, end to end) and the library
 * (`@tvm/s3-uploader` in a process of its own) against the AWS CLI v2 (/usr/bin/aws) and rclone, on one local
 * s3rver, in alternating rounds (each round runs every tool once, the order rotated), medians printed.
 * Scenarios: one 512 MiB file; many 1 KB files; the big file through an HTTPS front on loopback; a file over a
 * veth pair into a network namespace shaped to 50 Mbit/s with `tc ... tbf`; `upload.bandwidth_limit` at 25 Mbit/s.
 * The daemon is the vehicle build (scripts/bundle.ts) started by its launcher, as a vehicle runs it.
 * Each run is bounded in time (killed and reported past its limit). A tool that is missing is skipped, with why.
 * Environment: BENCH_ROUNDS (3), BENCH_SMALL_FILES (10000), BENCH_BIG_MIB (512), BENCH_SHAPED_MIB (128),
 * BENCH_LIMIT_MIB (32), BENCH_ONLY (comma-separated scenario names: big,small,https,shaped,limit), BENCH_TOOLS
 * (comma-separated tools: daemon,library,aws,rclone; the others are skipped with that reason), BENCH_CHECKSUM_MODE
 * (when_required, as an S3-compatible server is configured, or when_supported, the agent's default for S3),
 * BENCH_NODE_FLAGS (extra node flags for the daemon and the library, e.g. to profile them), BENCH_SERVER_DIR (where
 * s3rver's objects go: /dev/shm where it exists, else the temporary directory).
 * Needs root for the shaped scenario (ip netns, tc); skipped with a reason otherwise.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import type { Server } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateTestCertificates, startLocalS3, startTlsFront } from '@tvm/test-utils';
import {
  forwarder,
  procUsage,
  resetTraffic,
  setUpNamespace,
  shapedBytes,
  tearDownNamespace,
  type Forwarder,
  wireRate,
  type ShapedLink,
} from './netns.js';
import { stringify } from 'yaml';
import { vehicleLauncher } from './daemon-config.js';

const MiB = 1024 * 1024;
const env = process.env;
const ROUNDS = Number(env.BENCH_ROUNDS ?? 3);
const SMALL_FILES = Number(env.BENCH_SMALL_FILES ?? 10_000);
const BIG_BYTES = Number(env.BENCH_BIG_MIB ?? 512) * MiB;
const SHAPED_BYTES = Number(env.BENCH_SHAPED_MIB ?? 128) * MiB;
const LIMIT_BYTES = Number(env.BENCH_LIMIT_MIB ?? 32) * MiB;
const ONLY = env.BENCH_ONLY?.split(',');
const ONLY_TOOLS = env.BENCH_TOOLS?.split(',');
// The daemon's s3.checksum_mode and the library's checksumMode (upload-worker.mjs reads the same variable).
const CHECKSUM_MODE = env.BENCH_CHECKSUM_MODE ?? 'when_required';
// Extra node flags for the daemon and the library worker, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile them.
const NODE_FLAGS = env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? [];
// Where s3rver keeps its objects: in memory (/dev/shm) where there is one. The server's disk is not what is measured,
// and 1 GiB written per 512 MiB round (the parts, then the object they are joined into) to a shared virtual disk made
// rounds of every tool swing by a third. The sources and the daemon's state stay on the temporary directory's disk.
const SERVER_DIR_PARENT = env.BENCH_SERVER_DIR ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir());
const LINK_BPS = 50e6 / 8; // 50 Mbit/s in bytes per second
const LIMIT_BPS = 25e6 / 8; // upload.bandwidth_limit, 25 Mbit/s
const CONCURRENCY = 10; // the AWS CLI's default max_concurrent_requests, given to every tool
const AWS = '/usr/bin/aws';
const RCLONE = '/usr/bin/rclone';
const NS = 'tvmbench';
const HOST_IP = '10.213.7.1';
const LINK: ShapedLink = {
  ns: NS,
  hostIf: 'tvmb-h',
  nsIf: 'tvmb-n',
  hostIp: HOST_IP,
  nsIp: '10.213.7.2',
  rate: '50mbit',
};

const agentDir = fileURLToPath(new URL('..', import.meta.url));
const repo = join(agentDir, '..', '..');
// The daemon as vehicles run it: the vehicle build (scripts/bundle.ts), started by its launcher bin/tvm-upload.
let launcher = '';
// The node the launcher runs (TVM_UPLOAD_NODE): this one, or a script adding BENCH_NODE_FLAGS (built in main(); node
// refuses some of them, such as --cpu-prof, in NODE_OPTIONS).
let daemonNode = process.execPath;
const libraryWorker = join(repo, 'packages', 's3-uploader', 'bench', 'upload-worker.mjs');

/** The node flags the launcher passes (its `exec ... node <flags> tvm-upload.mjs` line). */
const launcherFlags = () =>
  (/exec .*?node\}?"? (.*) "\$here/.exec(readFileSync(launcher, 'utf8'))?.[1] ?? '').split(/\s+/);

type Tool = 'daemon' | 'library' | 'aws' | 'rclone';
const TOOLS: Tool[] = ['daemon', 'library', 'aws', 'rclone'];

interface Measure {
  seconds: number;
  cpuSeconds: number;
  peakRssMiB: number;
  /** The daemon's CPU until it logged `tvm-upload started` (module loading, config, state): once per boot. */
  startupCpuSeconds?: number;
  /** The daemon's wall time until that line. */
  startupSeconds?: number;
  /** Body bytes per second on the wire while the body flowed (see `wireRate`), for a scenario with a forwarder. */
  wireRate?: number;
}

interface Target {
  endpoint: string; // as the client sees it
  netns?: string;
  caFile?: string;
  bandwidth?: number; // bytes per second, 0 = unlimited
}

interface Job {
  tool: Tool;
  source: string; // a file or a directory
  files: number;
  bytes: number;
  prefix: string;
  target: Target;
  timeoutSeconds: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

/** Why a tool cannot run here, or undefined when it can. */
function missing(tool: Tool): string | undefined {
  if (ONLY_TOOLS !== undefined && !ONLY_TOOLS.includes(tool)) return 'not in BENCH_TOOLS';
  if (tool === 'aws') {
    if (!existsSync(AWS)) return `${AWS} not found (apt-get install -y awscli)`;
    const version = spawnSync(AWS, ['--version'], { encoding: 'utf8' }).stdout.trim();
    return version.startsWith('aws-cli/2.') ? undefined : `${AWS} is not AWS CLI v2 (${version})`;
  }
  if (tool === 'rclone')
    return existsSync(RCLONE) ? undefined : `${RCLONE} not found (apt-get install -y rclone)`;
  if (tool === 'daemon') return existsSync(launcher) ? undefined : `${launcher} not built`;
  return undefined;
}

function ensureTools(): void {
  if (!existsSync(AWS) || !existsSync(RCLONE)) {
    if (process.getuid?.() === 0) {
      console.log('Installing awscli and rclone with apt-get ...');
      spawnSync('apt-get', ['install', '-y', 'awscli', 'rclone'], {
        stdio: 'ignore',
        env: { ...env, DEBIAN_FRONTEND: 'noninteractive' },
        timeout: 300_000,
      });
    }
  }
}

/** Runs a command under /usr/bin/time and reads its wall time, CPU time and peak RSS; killed after the timeout. */
async function timed(command: string, args: string[], extraEnv: NodeJS.ProcessEnv, timeoutSeconds: number) {
  const out = join(tmpdir(), `bench-time-${process.pid}-${Date.now()}`);
  const childEnv = { ...env, ...extraEnv };
  for (const [name, value] of Object.entries(extraEnv)) if (value === undefined) delete childEnv[name];
  const child = spawn('/usr/bin/time', ['-f', '%e %U %S %M', '-o', out, command, ...args], {
    env: childEnv,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    if (stderr.length < 4000) stderr += c.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutSeconds * 1000);
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  clearTimeout(timer);
  const text = await readFile(out, 'utf8').catch(() => '');
  await rm(out, { force: true });
  const fields = text.trim().split('\n').pop()?.split(' ').map(Number) ?? [];
  if (code !== 0 || fields.length < 4)
    throw new Error(`${command} failed (exit ${code}, limit ${timeoutSeconds} s): ${stderr.slice(0, 800)}`);
  const [seconds, user, system, rssKb] = fields as [number, number, number, number];
  return { seconds, cpuSeconds: user + system, peakRssMiB: rssKb / 1024 };
}

function inNs(target: Target, command: string, args: string[]): [string, string[]] {
  return target.netns ? ['ip', ['netns', 'exec', target.netns, command, ...args]] : [command, args];
}

function tlsEnv(target: Target): NodeJS.ProcessEnv {
  return target.caFile ? { NODE_EXTRA_CA_CERTS: target.caFile } : {};
}

async function runDaemon(job: Job, root: string): Promise<Measure> {
  const state = await mkdtemp(join(root, 'daemon-state-'));
  const aws = join(state, 'aws');
  await mkdir(aws);
  await writeFile(
    join(aws, 'credentials'),
    '[bench]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n',
  );
  const configFile = join(state, 'config.yaml');
  await writeFile(
    configFile,
    stringify({
      vehicle_id: job.prefix,
      log_directories: [{ path: job.source, source: 'ros' }],
      s3: {
        bucket: 'bench',
        region: 'cn-north-1',
        profile: 'bench',
        credentials_path: aws,
        endpoint: job.target.endpoint,
        force_path_style: true,
        checksum_mode: CHECKSUM_MODE,
        // The agent trusts only the CAs it is given (NODE_EXTRA_CA_CERTS is not one of its ways).
        ...(job.target.caFile ? { ca_bundle: job.target.caFile } : {}),
        concurrency: CONCURRENCY,
      },
      upload: {
        file_stable_seconds: 1,
        operational_hours: { enabled: false },
        queue_file: join(state, 'queue.json'),
        processed_files_registry: { registry_file: join(state, 'processed_files.json') },
        ...(job.target.bandwidth ? { bandwidth_limit: job.target.bandwidth } : {}),
      },
      deletion: { after_upload: { enabled: false }, age_based: { enabled: false } },
      monitoring: { cloudwatch_enabled: false },
    }),
  );
  const [command, args] = inNs(job.target, launcher, ['run', '--config', configFile]);
  const t0 = process.hrtime.bigint();
  const child = spawn(command, args, {
    // The daemon takes `AWS_CA_BUNDLE` (as the AWS CLI does) as its whole CA store: one set in the environment would
    // leave out the TLS front's CA.
    env: {
      ...env,
      TVM_UPLOAD_NODE: daemonNode,
      ...tlsEnv(job.target),
      ...(job.target.caFile ? { AWS_CA_BUNDLE: job.target.caFile } : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let uploaded = 0;
  let started = false;
  let startupSeconds: number | undefined;
  let tail = '';
  const count = (chunk: Buffer) => {
    const text = tail + chunk.toString();
    const lines = text.split('\n');
    tail = lines.pop() ?? '';
    for (const line of lines) {
      if (line.includes('Uploaded ')) uploaded++;
      else if (line.includes('tvm-upload started')) {
        started = true;
        startupSeconds ??= Number(process.hrtime.bigint() - t0) / 1e9;
      }
    }
  };
  child.stdout.on('data', count);
  let errors = '';
  child.stderr.on('data', (c: Buffer) => {
    if (errors.length < 4000) errors += c.toString();
  });
  const deadline = Date.now() + job.timeoutSeconds * 1000;
  let startupCpuSeconds: number | undefined;
  try {
    while (uploaded < job.files) {
      if (started && startupCpuSeconds === undefined) {
        startupCpuSeconds = (await procUsage(child.pid as number)).cpuSeconds;
      }
      if (child.exitCode !== null)
        throw new Error(`daemon exited ${child.exitCode}: ${errors.slice(0, 800)}`);
      if (Date.now() > deadline)
        throw new Error(`daemon: ${uploaded}/${job.files} after ${job.timeoutSeconds} s`);
      await sleep(20);
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    return {
      seconds,
      ...(await procUsage(child.pid as number)),
      ...(startupCpuSeconds === undefined ? {} : { startupCpuSeconds }),
      ...(startupSeconds === undefined ? {} : { startupSeconds }),
    };
  } finally {
    child.kill('SIGTERM');
    const exited = new Promise((r) => child.once('exit', r));
    if (child.exitCode === null) await Promise.race([exited, sleep(10_000)]);
    if (child.exitCode === null) child.kill('SIGKILL');
    await rm(state, { recursive: true, force: true });
  }
}

async function runJob(job: Job, root: string): Promise<Measure> {
  const { target } = job;
  const credentials = {
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_DEFAULT_REGION: 'us-east-1',
  };
  switch (job.tool) {
    case 'daemon':
      return runDaemon(job, root);
    case 'library': {
      const [command, args] = inNs(target, process.execPath, [
        ...NODE_FLAGS,
        libraryWorker,
        target.endpoint,
        'bench',
        job.prefix,
        job.source,
        String(CONCURRENCY),
      ]);
      return timed(
        command,
        args,
        { ...tlsEnv(target), ...(target.bandwidth ? { BENCH_BANDWIDTH: String(target.bandwidth) } : {}) },
        job.timeoutSeconds,
      );
    }
    case 'aws': {
      const config = join(root, `aws-config-${job.prefix}`);
      await writeFile(
        config,
        `[default]\ns3 =\n  max_concurrent_requests = ${CONCURRENCY}\n${target.bandwidth ? `  max_bandwidth = ${(target.bandwidth * 8) / 1e6}Mb/s\n` : ''}`,
      );
      const recursive = job.files > 1 ? ['--recursive'] : [];
      const dest = job.files > 1 ? `s3://bench/${job.prefix}/` : `s3://bench/${job.prefix}/big.bin`;
      const [command, args] = inNs(target, AWS, [
        '--endpoint-url',
        target.endpoint,
        ...(target.caFile ? ['--ca-bundle', target.caFile] : []),
        's3',
        'cp',
        ...recursive,
        '--only-show-errors',
        job.files > 1 ? job.source : join(job.source, (await readdir(job.source))[0] as string),
        dest,
      ]);
      try {
        return await timed(command, args, { ...credentials, AWS_CONFIG_FILE: config }, job.timeoutSeconds);
      } finally {
        await rm(config, { force: true });
      }
    }
    case 'rclone': {
      const [command, args] = inNs(target, RCLONE, [
        'copy',
        '--s3-no-check-bucket',
        '--transfers',
        String(CONCURRENCY),
        '--checkers',
        String(CONCURRENCY),
        ...(target.caFile ? ['--ca-cert', target.caFile] : []),
        ...(target.bandwidth ? ['--bwlimit', `${(target.bandwidth / 1024).toFixed(0)}k`] : []),
        job.source,
        `bench:bench/${job.prefix}`,
      ]);
      return timed(
        command,
        args,
        {
          RCLONE_CONFIG_BENCH_TYPE: 's3',
          RCLONE_CONFIG_BENCH_PROVIDER: 'Other',
          RCLONE_CONFIG_BENCH_ENDPOINT: target.endpoint,
          RCLONE_CONFIG_BENCH_ACCESS_KEY_ID: 'S3RVER',
          RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY: 'S3RVER',
          RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE: 'true',
          RCLONE_CONFIG: '/dev/null',
          AWS_CA_BUNDLE: undefined, // rclone's SDK would load it (and fails to); --ca-cert is rclone's own way
        },
        job.timeoutSeconds,
      );
    }
  }
}

/** A TCP forwarder: `host`:any port -> 127.0.0.1:targetPort. */
async function makeFile(path: string, bytes: number): Promise<void> {
  const chunk = Buffer.allocUnsafe(8 * MiB);
  const parts: Buffer[] = [];
  for (let written = 0; written < bytes; written += chunk.length) {
    parts.push(Buffer.from(randomFillSync(chunk).subarray(0, Math.min(chunk.length, bytes - written))));
  }
  await writeFile(path, Buffer.concat(parts));
  const old = new Date(Date.now() - 3_600_000);
  await utimes(path, old, old);
}

async function makeSmallTree(dir: string, count: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  const old = new Date(Date.now() - 3_600_000);
  for (let i = 0; i < count; i++) {
    const file = join(dir, `node-${String(i).padStart(5, '0')}.log`);
    await writeFile(file, `${i} ${'log line '.repeat(113)}\n`.slice(0, 1024));
    await utimes(file, old, old);
  }
}

interface Scenario {
  name: string;
  title: string;
  source: string;
  files: number;
  bytes: number;
  rounds: number;
  target: Target;
  timeoutSeconds: number;
  /** A reference rate (bytes/s) the achieved rate is shown as a share of. */
  reference?: { label: string; bytesPerSecond: number };
  /** The shaped link the runs cross, whose shaper counts what it sent. */
  link?: ShapedLink;
  /** Counts the connections and the traffic of each run, when it passes a forwarder. */
  connections?: Forwarder['peak'];
  traffic?: Forwarder['traffic'];
}

type Results = Map<Tool, Measure[] | string>;

async function runScenario(scenario: Scenario, root: string, s3Dir: string): Promise<Results> {
  const results: Results = new Map();
  const tools = TOOLS.filter((tool) => {
    const why = missing(tool);
    if (why !== undefined) results.set(tool, `skipped: ${why}`);
    return why === undefined;
  });
  for (const tool of tools) results.set(tool, []);
  console.log(`\n== ${scenario.title} (${scenario.rounds} round(s); load average ${load()})`);
  for (let round = 0; round < scenario.rounds; round++) {
    const order = tools.map((_, i) => tools[(i + round) % tools.length] as Tool);
    for (const tool of order) {
      const measures = results.get(tool);
      if (!Array.isArray(measures)) continue;
      const prefix = `${scenario.name}-${tool}-${round}-${Date.now()}`;
      if (scenario.connections) scenario.connections.max = scenario.connections.open;
      if (scenario.traffic) resetTraffic(scenario.traffic, scenario.bytes);
      const runStart = performance.now();
      const shapedBefore = scenario.link ? await shapedBytes(scenario.link) : 0;
      try {
        const measure = await runJob(
          {
            tool,
            source: scenario.source,
            files: scenario.files,
            bytes: scenario.bytes,
            prefix,
            target: scenario.target,
            timeoutSeconds: scenario.timeoutSeconds,
          },
          root,
        );
        let connections = scenario.connections ? `, peak connections ${scenario.connections.max}` : '';
        const { traffic, reference } = scenario;
        const rate = traffic && wireRate(traffic);
        if (rate !== undefined) measure.wireRate = rate;
        measures.push(measure);
        if (traffic && reference && traffic.dataDone > 0 && !scenario.link) {
          // A limit, not a link: the limiter's rate while the body flowed (until the file's size had crossed).
          connections += `; on the wire ${(((rate ?? NaN) / reference.bytesPerSecond) * 100).toFixed(1)} % of it`;
        } else if (traffic && reference && traffic.dataDone > 0) {
          // The link's own view while the client uploads: from its first byte (HEAD, CreateMultipartUpload and the
          // TCP ramp included) until the file's size had crossed. Start-up, the read ahead, the server's assembly
          // at completion and the final HEAD are left out.
          // The link's use is its frames (what tbf meters) over that time; the file's bytes are its payload.
          const busy = (traffic.dataDone - traffic.first) / 1000;
          // The shaper's count over the run: the requests before the first byte and after the data are a few KB.
          const frames = scenario.link ? (await shapedBytes(scenario.link)) - shapedBefore : NaN;
          connections +=
            `, first byte after ${((traffic.first - runStart) / 1000).toFixed(2)} s; while uploading: ` +
            `link in use ${((frames / busy / reference.bytesPerSecond) * 100).toFixed(1)} %, ` +
            `file bytes ${((scenario.bytes / busy / reference.bytesPerSecond) * 100).toFixed(1)} % of it`;
        }
        console.log(
          `  round ${round + 1} ${tool.padEnd(7)} ${measure.seconds.toFixed(2)} s, CPU ${measure.cpuSeconds.toFixed(2)} s${measure.startupCpuSeconds === undefined ? '' : ` (${measure.startupCpuSeconds.toFixed(2)} s of it start-up)`}, peak RSS ${measure.peakRssMiB.toFixed(0)} MiB${connections} (load ${load()})`,
        );
      } catch (error) {
        results.set(tool, `failed: ${(error as Error).message.split('\n')[0]}`);
        console.log(`  round ${round + 1} ${tool}: ${(error as Error).message.slice(0, 400)}`);
      }
      // Free the server's disk between runs (s3rver keeps each object as files under the bucket's directory).
      for (const entry of await readdir(join(s3Dir, 'bench')).catch(() => [])) {
        if (entry.startsWith(prefix)) await rm(join(s3Dir, 'bench', entry), { recursive: true, force: true });
      }
    }
  }
  report(scenario, results);
  return results;
}

function report(scenario: Scenario, results: Results): void {
  const rows: string[][] = [];
  const medians = new Map<
    Tool,
    { seconds: number; cpu: number; rss: number; startup?: number; afterStartup?: number }
  >();
  for (const [tool, value] of results) {
    if (typeof value === 'string' || value.length === 0) continue;
    medians.set(tool, {
      seconds: median(value.map((m) => m.seconds)),
      cpu: median(value.map((m) => m.cpuSeconds)),
      rss: Math.max(...value.map((m) => m.peakRssMiB)),
      ...(value.every((m) => m.startupCpuSeconds !== undefined)
        ? { startup: median(value.map((m) => m.startupCpuSeconds as number)) }
        : {}),
      ...(value.every((m) => m.startupSeconds !== undefined)
        ? { afterStartup: median(value.map((m) => m.seconds - (m.startupSeconds as number))) }
        : {}),
    });
  }
  const aws = medians.get('aws');
  const rclone = medians.get('rclone');
  for (const tool of TOOLS) {
    const value = results.get(tool);
    const m = medians.get(tool);
    if (!m) {
      rows.push([tool, typeof value === 'string' ? value : 'no result']);
      continue;
    }
    const mbps = scenario.bytes / 1e6 / m.seconds;
    const row = [
      tool,
      `${m.seconds.toFixed(2)} s`,
      `${mbps.toFixed(1)} MB/s`,
      `${(scenario.files / m.seconds).toFixed(0)} files/s`,
      `${((m.cpu / scenario.bytes) * 1e9).toFixed(2)} CPU-s/GB`,
      `${((m.cpu / scenario.files) * 1e3).toFixed(3)} CPU-ms/file`,
      `peak ${m.rss.toFixed(0)} MiB`,
    ];
    if (aws && tool !== 'aws')
      row.push(
        `speed ${(aws.seconds / m.seconds).toFixed(2)}x aws`,
        `CPU ${(m.cpu / aws.cpu).toFixed(2)}x aws`,
      );
    if (rclone && tool !== 'rclone') row.push(`speed ${(rclone.seconds / m.seconds).toFixed(2)}x rclone`);
    if (m.startup !== undefined) {
      // A daemon starts once per boot, not once per upload: its CPU for the bytes alone, beside the total.
      const after = m.cpu - m.startup;
      row.push(
        `after start-up ${((after / scenario.bytes) * 1e9).toFixed(2)} CPU-s/GB` +
          (aws ? ` (${(after / aws.cpu).toFixed(2)}x aws)` : ''),
      );
    }
    if (m.afterStartup !== undefined) {
      // The same for its time: from its `tvm-upload started` line (the one-off start-up left out).
      const after = m.afterStartup;
      row.push(
        `${after.toFixed(2)} s after start-up` +
          (aws ? ` (speed ${(aws.seconds / after).toFixed(2)}x aws)` : ''),
      );
    }
    const rates = Array.isArray(value) ? value.map((m) => m.wireRate) : [];
    if (scenario.reference && !scenario.link && rates.length > 0 && rates.every((r) => r !== undefined))
      row.push(
        `on the wire ${((median(rates as number[]) / scenario.reference.bytesPerSecond) * 100).toFixed(1)} % of ${scenario.reference.label}`,
      );
    if (scenario.reference)
      row.push(
        `${((scenario.bytes / m.seconds / scenario.reference.bytesPerSecond) * 100).toFixed(1)} % of ${scenario.reference.label}`,
      );
    rows.push(row);
  }
  console.log(`-- ${scenario.title}: medians (load average ${load()})`);
  for (const row of rows) console.log(`  ${row.join(' | ')}`);
}

async function main(): Promise<void> {
  const started = Date.now();
  ensureTools();
  console.log(
    `AWS CLI: ${existsSync(AWS) ? spawnSync(AWS, ['--version'], { encoding: 'utf8' }).stdout.trim() : 'missing'} (${AWS})`,
  );
  console.log(
    `rclone: ${existsSync(RCLONE) ? (spawnSync(RCLONE, ['version'], { encoding: 'utf8' }).stdout.split('\n')[0] ?? '') : 'missing'} (${RCLONE})`,
  );
  execFileSync('npx', ['tsc', '-b'], { cwd: repo, stdio: 'inherit' }); // the library as built
  const root = await mkdtemp(join(tmpdir(), 'bench-compare-'));
  launcher = await vehicleLauncher(join(root, 'vehicle'));
  if (NODE_FLAGS.length > 0) {
    daemonNode = join(root, 'node-with-flags');
    const quoted = [process.execPath, ...NODE_FLAGS].map((a) => `'${a.replaceAll("'", "'\\''")}'`);
    await writeFile(daemonNode, `#!/bin/sh\nexec ${quoted.join(' ')} "$@"\n`, { mode: 0o755 });
  }
  console.log(
    `node ${process.version}; daemon: the vehicle build, ${launcher} (node ${launcherFlags().join(' ')}); checksum mode ${CHECKSUM_MODE}; load average ${load()}`,
  );

  const s3Dir = await mkdtemp(join(SERVER_DIR_PARENT, 'bench-compare-s3-'));
  console.log(`s3rver's objects in ${s3Dir}; sources and daemon state in ${root}`);
  const s3 = await startLocalS3({ buckets: ['bench'], directory: s3Dir });
  const servers: Server[] = [];
  const closers: Array<() => Promise<void>> = [];
  let nsProblem: string | undefined = 'not requested';
  try {
    const want = (name: string) => ONLY === undefined || ONLY.includes(name);
    const bigDir = join(root, 'big');
    await mkdir(bigDir);
    const big = join(bigDir, 'big.bin');
    if (want('big') || want('https')) await makeFile(big, BIG_BYTES);
    const local: Target = { endpoint: s3.endpoint };
    const bigTimeout = Math.max(120, BIG_BYTES / MiB);

    if (want('big'))
      await runScenario(
        {
          name: 'big',
          title: `One ${BIG_BYTES / MiB} MiB file, http://127.0.0.1`,
          source: bigDir,
          files: 1,
          bytes: BIG_BYTES,
          rounds: ROUNDS,
          target: local,
          timeoutSeconds: bigTimeout,
        },
        root,
        s3Dir,
      );

    if (want('small')) {
      const smallDir = join(root, 'small');
      await makeSmallTree(smallDir, SMALL_FILES);
      await runScenario(
        {
          name: 'small',
          title: `${SMALL_FILES} files of 1 KB, http://127.0.0.1`,
          source: smallDir,
          files: SMALL_FILES,
          bytes: SMALL_FILES * 1024,
          rounds: ROUNDS,
          target: local,
          timeoutSeconds: Math.max(60, SMALL_FILES / 50),
        },
        root,
        s3Dir,
      );
    }

    if (want('https')) {
      const front = await startTlsFront(s3.endpoint, generateTestCertificates());
      closers.push(front.close);
      const caFile = join(root, 'tls-front-ca.pem');
      await writeFile(caFile, front.ca);
      await runScenario(
        {
          name: 'https',
          title: `One ${BIG_BYTES / MiB} MiB file, https://127.0.0.1 (TLS-terminating proxy in front of s3rver)`,
          source: bigDir,
          files: 1,
          bytes: BIG_BYTES,
          rounds: ROUNDS,
          target: { endpoint: front.endpoint, caFile },
          timeoutSeconds: bigTimeout * 2,
        },
        root,
        s3Dir,
      );
    }

    if (want('shaped')) {
      nsProblem = setUpNamespace(LINK);
      if (nsProblem !== undefined) {
        console.log(`\n== 50 Mbit/s shaped link: skipped: ${nsProblem}`);
      } else {
        const front = await forwarder(HOST_IP, s3.port);
        servers.push(front.server);
        const dir = join(root, 'shaped');
        await mkdir(dir);
        await makeFile(join(dir, 'shaped.bin'), SHAPED_BYTES);
        await runScenario(
          {
            name: 'shaped',
            // tbf counts whole Ethernet frames: 1448 bytes of TCP payload per 1514-byte frame at MTU 1500.
            title: `One ${SHAPED_BYTES / MiB} MiB file over a veth pair shaped to 50 Mbit/s (tc tbf, burst 64kb, latency 100ms; TCP payload can use at most 95.6 % of it)`,
            source: dir,
            files: 1,
            bytes: SHAPED_BYTES,
            rounds: 1,
            target: { endpoint: `http://${HOST_IP}:${front.port}`, netns: NS },
            timeoutSeconds: Math.ceil((SHAPED_BYTES / LINK_BPS) * 3 + 30),
            reference: { label: 'the 50 Mbit/s link', bytesPerSecond: LINK_BPS },
            link: LINK,
            connections: front.peak,
            traffic: front.traffic,
          },
          root,
          s3Dir,
        );
      }
    }

    if (want('limit')) {
      // Through a counting forwarder: the limiter's rate on the wire, beside the share from the spawn.
      const front = await forwarder('127.0.0.1', s3.port);
      servers.push(front.server);
      const dir = join(root, 'limit');
      await mkdir(dir);
      await makeFile(join(dir, 'limit.bin'), LIMIT_BYTES);
      await runScenario(
        {
          name: 'limit',
          title: `One ${LIMIT_BYTES / MiB} MiB file at a bandwidth limit of 25 Mbit/s (3,125,000 B/s), http://127.0.0.1`,
          source: dir,
          files: 1,
          bytes: LIMIT_BYTES,
          rounds: ROUNDS,
          target: { endpoint: `http://127.0.0.1:${front.port}`, bandwidth: LIMIT_BPS },
          timeoutSeconds: Math.ceil((LIMIT_BYTES / LIMIT_BPS) * 3 + 30),
          reference: { label: 'the 25 Mbit/s limit', bytesPerSecond: LIMIT_BPS },
          traffic: front.traffic,
        },
        root,
        s3Dir,
      );
    }
  } finally {
    for (const server of servers) server.close();
    for (const close of closers) await close();
    if (nsProblem === undefined) tearDownNamespace(LINK);
    await s3.close();
    await rm(root, { recursive: true, force: true });
    await rm(s3Dir, { recursive: true, force: true });
    console.log(`\nDone in ${((Date.now() - started) / 1000).toFixed(0)} s; load average ${load()}`);
  }
}

await main();
