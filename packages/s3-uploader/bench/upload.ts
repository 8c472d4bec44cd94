// pnpm --filter @tvm/s3-uploader bench
// One 512 MiB file and 2,000 files of 16 KiB, uploaded to one local s3rver by this package and by the AWS CLI.
// Prints MB/s, files/s, CPU seconds per GB and peak RSS, each measured with /usr/bin/time -v on the uploading process.
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ListObjectsCommand, type S3Client } from '@aws-sdk/client-s3';
import { startLocalS3 } from '@tvm/test-utils';

const run = promisify(execFile);
const here = fileURLToPath(new URL('.', import.meta.url));
const work = join(here, '..', '.bench-tmp'); // git-ignored
const MiB = 1024 * 1024;
const BIG_BYTES = 512 * MiB;
const SMALL_COUNT = 2_000;
const SMALL_BYTES = 16 * 1024;

interface Measure {
  seconds: number;
  cpuSeconds: number;
  maxRssMiB: number;
}

/** Runs a command under /usr/bin/time -v and reads its wall time, CPU time and peak RSS. */
async function measured(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Measure> {
  const { stderr } = await run('/usr/bin/time', ['-v', command, ...args], {
    env: { ...process.env, ...env },
    maxBuffer: 64 * MiB,
  }).catch((error: { stderr?: string; stdout?: string }) => {
    const output = `${error.stdout ?? ''}${error.stderr ?? ''}`.split('\n').slice(0, 30).join('\n');
    throw new Error(`${command} ${args.slice(-3).join(' ')} failed:\n${output}`);
  });
  const field = (label: string): string => {
    const line = stderr.split('\n').find((l) => l.trim().startsWith(label));
    if (!line) throw new Error(`no "${label}" in /usr/bin/time output:\n${stderr}`);
    return line.slice(line.lastIndexOf(': ') + 2).trim();
  };
  const wall = field('Elapsed (wall clock) time')
    .split(':')
    .reduce((sum, part) => sum * 60 + Number(part), 0);
  return {
    seconds: wall,
    cpuSeconds: Number(field('User time (seconds)')) + Number(field('System time (seconds)')),
    maxRssMiB: Number(field('Maximum resident set size (kbytes)')) / 1024,
  };
}

/** Objects under `prefix` and their total size. ListObjects v1: s3rver 3.7 fails ListObjectsV2 past 1,000 keys. */
async function objectBytes(
  client: S3Client,
  bucket: string,
  prefix: string,
): Promise<{ count: number; bytes: number }> {
  let count = 0;
  let bytes = 0;
  let marker: string | undefined;
  for (;;) {
    const page = await client.send(
      new ListObjectsCommand({ Bucket: bucket, Prefix: prefix, ...(marker ? { Marker: marker } : {}) }),
    );
    for (const object of page.Contents ?? []) {
      count++;
      bytes += object.Size ?? 0;
    }
    marker = page.Contents?.at(-1)?.Key;
    if (!page.IsTruncated || marker === undefined) return { count, bytes };
  }
}

function awsCli(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v aws && aws --version'], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim().split('\n').join(' ') : undefined;
}

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';
await rm(work, { recursive: true, force: true });
await mkdir(join(work, 'small'), { recursive: true });
const bigFile = join(work, 'big.bin');
{
  const chunk = randomBytes(8 * MiB);
  const parts: Buffer[] = [];
  for (let i = 0; i < BIG_BYTES / chunk.length; i++) parts.push(i % 2 ? chunk : randomBytes(8 * MiB));
  await writeFile(bigFile, Buffer.concat(parts));
}
for (let i = 0; i < SMALL_COUNT; i++) {
  await writeFile(join(work, 'small', `log-${String(i).padStart(4, '0')}.log`), randomBytes(SMALL_BYTES));
}

// Written data still being flushed would slow whichever tool runs first.
await run('sync', []);
const s3 = await startLocalS3({ buckets: ['bench'], directory: join(work, 's3rver') });
const client = s3.client();
// The worker imports the built package: build it (and error-classification) first.
await run(process.execPath, [
  createRequire(import.meta.url).resolve('typescript/bin/tsc'),
  '-b',
  join(here, '..'),
]);
const worker = join(here, 'upload-worker.mjs');
const node = (prefix: string, target: string) =>
  measured(process.execPath, [worker, s3.endpoint, 'bench', prefix, target], {
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  });

type Tool = (round: number) => Promise<{ big: Measure; small: Measure }>;
const tools: Array<{ name: string; run: Tool; prefix: string }> = [
  {
    name: '@tvm/s3-uploader',
    prefix: 'pkg',
    run: async (round) => ({
      big: await node(`pkg${round}/big`, bigFile),
      small: await node(`pkg${round}/small`, join(work, 'small')),
    }),
  },
];
const cli = awsCli();
if (cli === undefined) {
  console.log(
    'AWS CLI not found (`aws`): its column is skipped. Install it with `apt-get install -y awscli`.',
  );
} else {
  console.log(`AWS CLI: ${cli}`);
  // Path-style addressing and checksums only when required: s3rver stores aws-chunked framing otherwise.
  const config = join(work, 'aws-config');
  await writeFile(
    config,
    '[default]\nregion = us-east-1\nrequest_checksum_calculation = when_required\n' +
      'response_checksum_validation = when_required\ns3 =\n  addressing_style = path\n',
  );
  const env = { AWS_CONFIG_FILE: config, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };
  const aws = (args: string[]) =>
    measured('aws', ['--endpoint-url', s3.endpoint, '--only-show-errors', ...args], env);
  tools.push({
    name: 'aws s3 cp',
    prefix: 'cli',
    run: async (round) => ({
      big: await aws(['s3', 'cp', bigFile, `s3://bench/cli${round}/big/big.bin`]),
      small: await aws(['s3', 'cp', '--recursive', join(work, 'small'), `s3://bench/cli${round}/small/`]),
    }),
  });
}

const gb = (bytes: number) => bytes / 1e9;
const row = (name: string, big: Measure, small: Measure): string =>
  [
    name.padEnd(19),
    (BIG_BYTES / 1e6 / big.seconds).toFixed(1).padStart(12),
    (big.cpuSeconds / gb(BIG_BYTES)).toFixed(2).padStart(8),
    big.maxRssMiB.toFixed(0).padStart(12),
    `| ${(SMALL_COUNT / small.seconds).toFixed(0).padStart(22)}`,
    (small.cpuSeconds / gb(SMALL_COUNT * SMALL_BYTES)).toFixed(1).padStart(8),
    small.maxRssMiB.toFixed(0).padStart(12),
  ].join(' | ');
const header =
  'tool                | 512 MiB MB/s | CPU s/GB | peak RSS MiB || 2,000 x 16 KiB files/s | CPU s/GB | peak RSS MiB';

try {
  // Two rounds in opposite orders, so neither tool always runs first (page cache, disk writeback, a warm server).
  const results = new Map<string, Array<{ big: Measure; small: Measure }>>();
  for (const round of [1, 2]) {
    for (const tool of round === 1 ? tools : [...tools].reverse()) {
      const measure = await tool.run(round);
      results.set(tool.name, [...(results.get(tool.name) ?? []), measure]);
      for (const [kind, count, bytes] of [
        ['big', 1, BIG_BYTES],
        ['small', SMALL_COUNT, SMALL_COUNT * SMALL_BYTES],
      ] as const) {
        const found = await objectBytes(client, 'bench', `${tool.prefix}${round}/${kind}/`);
        if (found.count !== count || found.bytes !== bytes) {
          throw new Error(
            `${tool.name} round ${round}: expected ${count} objects of ${bytes} bytes, found ${JSON.stringify(found)}`,
          );
        }
      }
    }
  }

  console.log(
    `\nOne s3rver on 127.0.0.1 (same machine, ${availableParallelism()} cores shared with the uploader); objects checked after each run.`,
  );
  console.log(`Each run:\n${header}`);
  for (const [name, runs] of results) for (const run of runs) console.log(row(name, run.big, run.small));
  console.log(`\nBest of ${2} (by throughput, each figure from that run):\n${header}`);
  for (const [name, runs] of results) {
    const big = runs.map((r) => r.big).sort((a, b) => a.seconds - b.seconds)[0] as Measure;
    const small = runs.map((r) => r.small).sort((a, b) => a.seconds - b.seconds)[0] as Measure;
    console.log(row(name, big, small));
  }
} finally {
  await s3.close();
  await rm(work, { recursive: true, force: true });
}
