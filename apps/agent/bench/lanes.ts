/**
 * `pnpm bench:lanes`: priority lanes on a shaped link. The real `tvm-upload run` process (the vehicle build, started
 * by its launcher) in a network namespace whose egress is shaped to 50 Mbit/s (veth + `tc ... tbf`), uploading to
 * s3rver on the host: one 300 MiB bag of random bytes (lane low), 200 MiB of ROS-like text logs (lane normal), and 50
 * small files of lane high written while the bag uploads. Prints the time from ready (the agent's `Queued` line) to
 * in S3 (its `Uploaded` line) of the high files (p50 / p95 / max; target p95 < 5 s), the link share used (the
 * shaper's own count, what tbf meters; target >= 95 %), the effective rate in original bytes per second (all of it,
 * and the text logs' own: target >= 3x the link rate with compression), and CPU per original GB. Needs root (ip
 * netns, tc): prints SKIP otherwise.
 * Environment: BENCH_BAG_MIB (300), BENCH_TEXT_MIB (200), BENCH_HIGH_FILES (50), BENCH_COMPRESS (none; gzip or zstd:
 * the text and high directories' `compress`, the bag is sent as it is by its `.bag` name), BENCH_COMPRESS_HIGH (the
 * high files' `compress` alone; default BENCH_COMPRESS), BENCH_DAEMON_LOG (a file to write the daemon's log to).
 */
import { spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalS3 } from '@tvm/test-utils';
import { stringify } from 'yaml';
import { vehicleLauncher } from './daemon-config.js';
import {
  forwarder,
  procUsage,
  setUpNamespace,
  shapedBytes,
  tearDownNamespace,
  type ShapedLink,
} from './netns.js';

const MiB = 1024 * 1024;
const env = process.env;
const BAG_BYTES = Number(env.BENCH_BAG_MIB ?? 300) * MiB;
const TEXT_BYTES = Number(env.BENCH_TEXT_MIB ?? 200) * MiB;
const HIGH_FILES = Number(env.BENCH_HIGH_FILES ?? 50);
const COMPRESS = env.BENCH_COMPRESS ?? 'none';
const LINK_BPS = 50e6 / 8;
const LINK: ShapedLink = {
  ns: 'tvmlanes',
  hostIf: 'tvml-h',
  nsIf: 'tvml-n',
  hostIp: '10.213.8.1',
  nsIp: '10.213.8.2',
  rate: '50mbit',
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

/** ROS-like text: rosout lines with a timestamp, a node, a level and a message. */
function rosText(bytes: number, seed: number): Buffer {
  const nodes = ['/planner', '/perception', '/localization', '/can_bridge', '/camera_front'];
  const words = ['obstacle', 'trajectory', 'lidar', 'frame', 'dropped', 'latency', 'pose', 'cov', 'ok'];
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const t = 1_760_000_000 + seed * 10_000 + i * 0.01;
    const node = nodes[(i * 7 + seed) % nodes.length] as string;
    const line = `[${t.toFixed(6)}] [INFO] [${node}]: ${words[i % words.length]} ${words[(i * 3) % words.length]} x=${((i * 13) % 1000) / 10} y=${((i * 17) % 1000) / 10} seq=${i}\n`;
    lines.push(line);
    size += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, bytes);
}

async function main(): Promise<number> {
  const problem = setUpNamespace(LINK);
  if (problem !== undefined) {
    console.log(`SKIP: ${problem}`);
    return 0;
  }
  const root = await mkdtemp(join(tmpdir(), 'tvm-bench-lanes-'));
  const s3 = await startLocalS3({ buckets: ['bench'], directory: join(root, 's3') });
  const front = await forwarder(LINK.hostIp, s3.port);
  try {
    const dirs = {
      bags: join(root, 'logs', 'bags'),
      ros: join(root, 'logs', 'ros'),
      alerts: join(root, 'logs', 'alerts'),
    };
    for (const dir of Object.values(dirs)) await mkdir(dir, { recursive: true });
    const old = new Date(Date.now() - 3_600_000);
    const bag = join(dirs.bags, 'run.bag');
    const chunk = Buffer.allocUnsafe(8 * MiB);
    const bagParts: Buffer[] = [];
    for (let n = 0; n < BAG_BYTES; n += chunk.length)
      bagParts.push(Buffer.from(randomFillSync(chunk).subarray(0, Math.min(chunk.length, BAG_BYTES - n))));
    await writeFile(bag, Buffer.concat(bagParts));
    await utimes(bag, old, old);
    const textFiles = 20;
    const texts: string[] = [];
    for (let i = 0; i < textFiles; i++) {
      const path = join(dirs.ros, `rosout-${i}.log`);
      texts.push(path);
      await writeFile(path, rosText(Math.floor(TEXT_BYTES / textFiles), i));
      await utimes(path, old, old);
    }
    const state = join(root, 'state');
    await mkdir(join(state, 'aws'), { recursive: true });
    await writeFile(
      join(state, 'aws', 'credentials'),
      '[bench]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n',
    );
    const configFile = join(state, 'config.yaml');
    await writeFile(
      configFile,
      stringify({
        vehicle_id: 'bench-lanes',
        log_directories: [
          { path: dirs.bags, source: 'bags', priority: 'low', compress: COMPRESS },
          { path: dirs.ros, source: 'ros', priority: 'normal', compress: COMPRESS },
          {
            path: dirs.alerts,
            source: 'alerts',
            priority: 'high',
            compress: env.BENCH_COMPRESS_HIGH ?? COMPRESS,
          },
        ],
        s3: {
          bucket: 'bench',
          region: 'cn-north-1',
          profile: 'bench',
          credentials_path: join(state, 'aws'),
          endpoint: `http://${LINK.hostIp}:${front.port}`,
          force_path_style: true,
          checksum_mode: 'when_required',
        },
        upload: {
          file_stable_seconds: 1,
          operational_hours: { enabled: false },
          queue_file: join(state, 'queue.json'),
          processed_files_registry: { registry_file: join(state, 'processed_files.json') },
          scan_existing_files: { enabled: true, max_age_days: 3 },
        },
        deletion: { after_upload: { enabled: false }, age_based: { enabled: false } },
        monitoring: { cloudwatch_enabled: false },
      }),
    );

    const queuedAt = new Map<string, number>();
    const uploadedAt = new Map<string, number>();
    let runStartedAt: number | undefined;
    // The shaper's count before the daemon starts (the link is idle until the run starts).
    const framesAtStart = await shapedBytes(LINK);
    const child = spawn(
      'ip',
      ['netns', 'exec', LINK.ns, await vehicleLauncher(join(root, 'vehicle')), 'run', '--config', configFile],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...env, TVM_UPLOAD_NODE: process.execPath } },
    );
    let tail = '';
    let errors = '';
    // BENCH_DAEMON_LOG=<file>: the daemon's log, to see where a run spent its time.
    const daemonLog = env.BENCH_DAEMON_LOG ? createWriteStream(env.BENCH_DAEMON_LOG) : undefined;
    child.stdout.on('data', (data: Buffer) => {
      daemonLog?.write(data);
      const lines = (tail + data.toString()).split('\n');
      tail = lines.pop() ?? '';
      const now = Date.now();
      for (const line of lines) {
        const queued = /Queued (\S+)$/.exec(line);
        if (queued?.[1]) queuedAt.set(queued[1], now);
        const uploaded = /Uploaded (\S+) to s3:/.exec(line);
        if (uploaded?.[1]) uploadedAt.set(uploaded[1], now);
        if (runStartedAt === undefined && line.includes('Upload run started')) runStartedAt = now;
      }
    });
    child.stderr.on('data', (c: Buffer) => {
      if (errors.length < 4000) errors += c.toString();
    });
    const total = BAG_BYTES + TEXT_BYTES;
    const deadline = Date.now() + ((total / LINK_BPS) * 3 + 120) * 1000;
    try {
      // The high files: one a second once the bag is under way.
      while (!uploadedAt.size && runStartedAt === undefined) {
        if (child.exitCode !== null) throw new Error(`daemon exited ${child.exitCode}: ${errors}`);
        await sleep(50);
      }
      await sleep(5000);
      const highs: string[] = [];
      let highBytes = 0;
      for (let i = 0; i < HIGH_FILES; i++) {
        const path = join(dirs.alerts, `event-${String(i).padStart(3, '0')}.crash`);
        const body = rosText(4096 + ((i * 7919) % 60_000), 1000 + i);
        await writeFile(path, body);
        highs.push(path);
        highBytes += body.length;
        if (uploadedAt.has(bag)) break;
        await sleep(1000);
      }
      const expected = 1 + textFiles + highs.length;
      while (uploadedAt.size < expected) {
        if (child.exitCode !== null) throw new Error(`daemon exited ${child.exitCode}: ${errors}`);
        if (Date.now() > deadline)
          throw new Error(`only ${uploadedAt.size}/${expected} files uploaded in time`);
        await sleep(20);
      }
      const usage = await procUsage(child.pid as number);
      const lastAt = Math.max(...uploadedAt.values());
      const seconds = (lastAt - (runStartedAt as number)) / 1000;
      const waits = highs.map((p) => ((uploadedAt.get(p) ?? NaN) - (queuedAt.get(p) ?? NaN)) / 1000);
      const bytes = total + highBytes;
      const bagDone = ((uploadedAt.get(bag) ?? NaN) - (runStartedAt as number)) / 1000;
      const highsWhileBag = highs.filter(
        (p) => (uploadedAt.get(p) ?? Infinity) < (uploadedAt.get(bag) ?? 0),
      ).length;
      console.log(
        `Priority lanes over a 50 Mbit/s tbf link (veth into netns ${LINK.ns}), s3rver on the host`,
      );
      console.log(
        `  mix: 1 x ${BAG_BYTES / MiB} MiB bag (low), ${textFiles} x ${TEXT_BYTES / textFiles / MiB} MiB ROS text logs (normal), ${highs.length} small high files (${(highBytes / 1024).toFixed(0)} KiB), ${highsWhileBag} of them landed while the bag was still uploading`,
      );
      console.log(
        `  high files, ready -> in S3: p50 ${percentile(waits, 50).toFixed(2)} s, p95 ${percentile(waits, 95).toFixed(2)} s, max ${Math.max(...waits).toFixed(2)} s (target p95 < 5 s)`,
      );
      // The link's use: its frames (headers included, what tbf meters) against its rate; the forwarder's count is the
      // TCP payload (request bodies and headers, compressed when configured), at most 95.6 % of the frames.
      const wire = front.traffic.bytes;
      // Read once the last file is in S3: the link has been idle since.
      const frames = (await shapedBytes(LINK)) - framesAtStart;
      // While uploading: from the first byte on the link to the last (start-up and the first file's compression
      // before, and the server's assembly of the bag after, when there is nothing left to send, left out).
      const busy = (front.traffic.last - front.traffic.first) / 1000;
      const firstByteAfter = (performance.timeOrigin + front.traffic.first - (runStartedAt as number)) / 1000;
      console.log(
        `  link share used (the shaper's count, headers included; target >= 95 %): ${((frames / busy / LINK_BPS) * 100).toFixed(1)} % from the first byte to the last (${busy.toFixed(1)} s; first byte ${firstByteAfter.toFixed(2)} s after the run started), ${((frames / seconds / LINK_BPS) * 100).toFixed(1)} % until the last file was in S3 (${seconds.toFixed(1)} s); TCP payload ${(wire / MiB).toFixed(0)} MiB; bag done after ${bagDone.toFixed(1)} s`,
      );
      console.log(
        `  effective rate (original bytes): ${(bytes / seconds / 1e6).toFixed(2)} MB/s = ${(bytes / seconds / LINK_BPS).toFixed(2)}x the link rate; compression: ${COMPRESS}`,
      );
      // The text logs (lane normal) go before the bag (lane low): from the run's start until the last is in S3.
      const textSeconds =
        (Math.max(...texts.map((p) => uploadedAt.get(p) ?? NaN)) - (runStartedAt as number)) / 1000;
      console.log(
        `  text logs: ${TEXT_BYTES / MiB} MiB of originals in S3 after ${textSeconds.toFixed(1)} s = ${(TEXT_BYTES / textSeconds / 1e6).toFixed(2)} MB/s = ${(TEXT_BYTES / textSeconds / LINK_BPS).toFixed(2)}x the link rate (target with compression >= 3x)`,
      );
      console.log(
        `  CPU: ${usage.cpuSeconds.toFixed(1)} s = ${(usage.cpuSeconds / (bytes / 1e9)).toFixed(1)} CPU-s per original GB, ${((usage.cpuSeconds / seconds) * 100).toFixed(0)} % of one core on average (start-up and hashing included); peak RSS ${usage.peakRssMiB.toFixed(0)} MiB`,
      );
      return 0;
    } finally {
      child.kill('SIGTERM');
      const exited = new Promise((r) => child.once('exit', r));
      if (child.exitCode === null) await Promise.race([exited, sleep(10_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  } finally {
    front.server.close();
    await s3.close();
    tearDownNamespace(LINK);
    await rm(root, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    tearDownNamespace(LINK);
    process.exit(1);
  },
);
