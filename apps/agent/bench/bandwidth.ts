/**
 * `tsx apps/agent/bench/bandwidth.ts` (after `pnpm build`): how close each tool holds `upload.bandwidth_limit`, end
 * to end. One file (BENCH_LIMIT_MIB, 32) at 25 Mbit/s (3,125,000 B/s; BENCH_LIMIT_BPS), sent by the daemon (the real
 * `tvm-upload run` process, the vehicle build started by its launcher), the library (`@tvm/s3-uploader` in a process
 * of its own), the AWS CLI v2 and rclone, in alternating rounds (BENCH_ROUNDS, 2) through a counting forwarder in
 * front of one local s3rver. For each run it prints, as a % of the limit: the rate on the wire from the moment a body
 * flowed until the file's size had passed the forwarder (what the limiter delivers; the small requests after the
 * data, completing the upload, are left out); the file's bytes over the time from the first byte to the end of the
 * upload (the daemon's `Uploaded` line, the other tools' exit: adds completing, verifying and recording the upload);
 * and over the whole wall time from the spawn (adds process start and, for the daemon, file_stable_seconds and the
 * directory scan). BENCH_TOOLS picks tools (comma-separated: daemon,library,aws,rclone); BENCH_CHECKSUM_MODE sets the
 * daemon's `s3.checksum_mode` and the library's `checksumMode` (unset: the daemon `when_required`, as for an
 * S3-compatible server, the library its default); BENCH_TRACE=1 prints the bytes of every 250 ms window of each run.
 */
import { spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLocalS3 } from '@tvm/test-utils';
import { vehicleLauncher, writeBenchConfig } from './daemon-config.js';
import { forwarder, resetTraffic, wireRate, type Forwarder } from './netns.js';

const MiB = 1024 * 1024;
const env = process.env;
const ROUNDS = Number(env.BENCH_ROUNDS ?? 2);
const BYTES = Number(env.BENCH_LIMIT_MIB ?? 32) * MiB;
const LIMIT = Number(env.BENCH_LIMIT_BPS ?? 25e6 / 8);
const AWS = '/usr/bin/aws';
const RCLONE = '/usr/bin/rclone';
const agentDir = fileURLToPath(new URL('..', import.meta.url));
// The daemon as vehicles run it: the vehicle build, started by its launcher (built in main()).
let launcher = '';
const worker = join(agentDir, '..', '..', 'packages', 's3-uploader', 'bench', 'upload-worker.mjs');
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Tool = 'daemon' | 'library' | 'aws' | 'rclone';

interface Run {
  /** From the first byte on the wire to the end of the upload. */
  transferSeconds: number;
  /** Bytes per second on the wire, from the moment a body flowed until the file's size had passed (`wireRate`). */
  wireRate: number;
  wallSeconds: number;
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'tvm-bench-bw-'));
  launcher = await vehicleLauncher(join(root, 'vehicle'));
  const s3 = await startLocalS3({ buckets: ['bench'], directory: join(root, 's3') });
  const front = await forwarder('127.0.0.1', s3.port);
  const wanted = env.BENCH_TOOLS?.split(',') ?? ['daemon', 'library', 'aws', 'rclone'];
  const tools = (['daemon', 'library', 'aws', 'rclone'] as const).filter((t) => wanted.includes(t)) as Tool[];
  for (const [tool, binary] of [
    ['aws', AWS],
    ['rclone', RCLONE],
  ] as const) {
    if (tools.includes(tool) && !existsSync(binary)) {
      console.log(`${tool}: skipped (${binary} not found)`);
      tools.splice(tools.indexOf(tool), 1);
    }
  }
  console.log(
    `One ${BYTES / MiB} MiB file at a limit of ${LIMIT} B/s (${(LIMIT * 8) / 1e6} Mbit/s); ideal transfer ${(BYTES / LIMIT).toFixed(2)} s; load ${load()}`,
  );
  const results = new Map<Tool, Run[]>(tools.map((t) => [t, []]));
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const order = tools.map((_, i) => tools[(i + round) % tools.length] as Tool);
      for (const tool of order) {
        const dir = join(root, `${tool}-${round}`);
        await mkdir(join(dir, 'logs'), { recursive: true });
        const file = join(dir, 'logs', 'limit.bin');
        await writeFile(file, randomFillSync(Buffer.allocUnsafe(BYTES)));
        const run = await runTool(tool, dir, file, front, `${tool}${round}`);
        results.get(tool)?.push(run);
        console.log(
          `  round ${round + 1} ${tool.padEnd(7)} on the wire ${share(run.wireRate)}; to the end of the upload ${run.transferSeconds.toFixed(2)} s = ${pct(run.transferSeconds)}; wall ${run.wallSeconds.toFixed(2)} s = ${pct(run.wallSeconds)} (load ${load()})`,
        );
        await rm(dir, { recursive: true, force: true });
      }
    }
    console.log(
      "\nMedians, % of the limit: on the wire (first body byte until the file's size had passed); to the end of the upload; wall (from the spawn):",
    );
    for (const [tool, runs] of results) {
      const wire = median(runs.map((r) => r.wireRate));
      const transfer = median(runs.map((r) => r.transferSeconds));
      const wall = median(runs.map((r) => r.wallSeconds));
      console.log(
        `  ${tool.padEnd(7)} wire ${share(wire).padStart(6)}  end ${pct(transfer).padStart(6)}  wall ${pct(wall).padStart(6)}`,
      );
    }
  } finally {
    front.server.close();
    await s3.close();
    await rm(root, { recursive: true, force: true });
  }
}

const share = (bytesPerSecond: number) => `${((bytesPerSecond / LIMIT) * 100).toFixed(1)}%`;
const pct = (seconds: number) => share(BYTES / seconds);
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Runs one tool; its first byte is the moment the forwarder had passed more than a request's headers. */
async function runTool(
  tool: Tool,
  dir: string,
  file: string,
  front: Forwarder,
  prefix: string,
): Promise<Run> {
  const endpoint = `http://127.0.0.1:${front.port}`;
  const [command, args, extraEnv] = await commandFor(tool, dir, file, endpoint, prefix);
  resetTraffic(front.traffic, BYTES);
  const start = performance.now();
  const childEnv = { ...env, ...extraEnv };
  for (const [name, value] of Object.entries(extraEnv)) if (value === undefined) delete childEnv[name];
  const child = spawn(command, args, { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let done: number | undefined;
  let output = '';
  const watch = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8000);
    if (tool === 'daemon' && done === undefined && /Uploaded .*limit\.bin/.test(output))
      done = performance.now();
  };
  child.stdout.on('data', watch);
  child.stderr.on('data', watch);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((r) =>
    child.once('exit', (code) => {
      exitCode = code;
      done ??= performance.now();
      r(code);
    }),
  );
  // BENCH_TRACE: the bytes of every 250 ms window from the moment a body flowed, to see where a run lost time.
  const windows: number[] = [];
  let lastBytes = 0;
  const deadline = start + ((BYTES / LIMIT) * 3 + 60) * 1000;
  while (done === undefined) {
    const { bytes, flowing } = front.traffic;
    if (flowing > 0 && bytes > lastBytes) {
      const index = Math.floor((performance.now() - flowing) / 250);
      windows[index] = (windows[index] ?? 0) + bytes - lastBytes;
      lastBytes = bytes;
    }
    if (performance.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${tool} did not finish in time:\n${output}`);
    }
    await sleep(5);
  }
  if (tool === 'daemon') {
    child.kill('SIGTERM');
    await exited;
  } else if (exitCode !== 0) {
    throw new Error(`${tool} failed (exit ${exitCode}):\n${output}`);
  }
  if (env.BENCH_TRACE)
    console.log(
      `    ${tool} KiB per 250 ms: ${Array.from(windows, (b) => Math.round((b ?? 0) / 1024)).join(' ')}`,
    );
  // From the moment a body flowed until the file's size had passed the forwarder: the requests after the data
  // (completing the upload, a HEAD) carry a few hundred bytes each, seconds later on a busy server, and are not the
  // limiter's work.
  const rate = wireRate(front.traffic);
  if (rate === undefined)
    throw new Error(`${tool} finished before ${BYTES} bytes passed the forwarder:\n${output}`);
  const first = front.traffic.flowing;
  return { transferSeconds: (done - first) / 1000, wireRate: rate, wallSeconds: (done - start) / 1000 };
}

async function commandFor(
  tool: Tool,
  dir: string,
  file: string,
  endpoint: string,
  prefix: string,
): Promise<[string, string[], NodeJS.ProcessEnv]> {
  const keys = {
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_DEFAULT_REGION: 'us-east-1',
  };
  switch (tool) {
    case 'daemon': {
      const config = await writeBenchConfig({
        file: join(dir, 'config.yaml'),
        awsDir: join(dir, 'aws'),
        state: join(dir, 'state'),
        logs: join(dir, 'logs'),
        endpoint,
        vehicleId: prefix,
        upload: { bandwidth_limit: LIMIT },
        // The library worker reads the same variable.
        ...(env.BENCH_CHECKSUM_MODE ? { s3: { checksum_mode: env.BENCH_CHECKSUM_MODE } } : {}),
      });
      return [launcher, ['run', '--config', config], { TVM_UPLOAD_NODE: process.execPath }];
    }
    case 'library':
      return [
        process.execPath,
        [worker, endpoint, 'bench', prefix, file, '10'],
        { BENCH_BANDWIDTH: String(LIMIT) },
      ];
    case 'aws': {
      const config = join(dir, 'aws-config');
      await writeFile(
        config,
        `[default]\ns3 =\n  max_concurrent_requests = 10\n  max_bandwidth = ${(LIMIT * 8) / 1e6}Mb/s\n`,
      );
      return [
        AWS,
        [
          '--endpoint-url',
          endpoint,
          's3',
          'cp',
          '--only-show-errors',
          file,
          `s3://bench/${prefix}/limit.bin`,
        ],
        { ...keys, AWS_CONFIG_FILE: config },
      ];
    }
    case 'rclone':
      return [
        RCLONE,
        [
          'copy',
          '--s3-no-check-bucket',
          '--transfers',
          '10',
          '--bwlimit',
          `${(LIMIT / 1024).toFixed(0)}k`,
          file,
          `bench:bench/${prefix}`,
        ],
        {
          RCLONE_CONFIG_BENCH_TYPE: 's3',
          RCLONE_CONFIG_BENCH_PROVIDER: 'Other',
          RCLONE_CONFIG_BENCH_ENDPOINT: endpoint,
          RCLONE_CONFIG_BENCH_ACCESS_KEY_ID: 'S3RVER',
          RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY: 'S3RVER',
          RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE: 'true',
          RCLONE_CONFIG: '/dev/null',
          AWS_CA_BUNDLE: undefined, // rclone's SDK would load it, and fails to
        },
      ];
  }
}

await main();
