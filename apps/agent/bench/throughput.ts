/**
 * Benchmarks of the real `tvm-upload run` process against a local S3 server on loopback:
 * 1. 10,000 small files detected, uploaded and registered; compared with `aws s3 cp --recursive` of the same tree.
 * 2. Idle cost with 10,000 files queued behind an outage (the fault proxy refuses connections): CPU and RSS.
 * Usage: pnpm --filter @tvm/agent bench [-- --files 10000 --idle-seconds 65]
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { startFaultProxy, startLocalS3 } from '@tvm/test-utils';
import { writeBenchConfig } from './daemon-config.js';

const run = promisify(execFile);
const { values } = parseArgs({
  options: { files: { type: 'string', default: '10000' }, 'idle-seconds': { type: 'string', default: '65' } },
});
const FILES = Number(values.files);
const IDLE_SECONDS = Number(values['idle-seconds']);
const CONCURRENCY = 10; // the AWS CLI's default max_concurrent_requests
const agentDir = fileURLToPath(new URL('..', import.meta.url));
const cli = join(agentDir, 'dist', 'cli.js');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function makeTree(root: string): Promise<void> {
  const old = new Date(Date.now() - 3_600_000);
  for (let i = 0; i < FILES; i++) {
    const dir = join(root, 'ros', `run-${i % 50}`);
    if (i < 50) await mkdir(dir, { recursive: true });
    const file = join(dir, `node-${i}.log`);
    await writeFile(file, `${i} ${'log line '.repeat(100)}\n`);
    await utimes(file, old, old);
  }
}

function config(root: string, endpoint: string, state: string): Promise<string> {
  return writeBenchConfig({
    file: join(root, `config-${Date.now()}.yaml`),
    awsDir: join(root, 'aws'),
    state,
    logs: join(root, 'logs', 'ros'),
    endpoint,
    s3: { concurrency: CONCURRENCY },
  });
}

function startAgent(configFile: string): { child: ChildProcess; output: string[] } {
  // The flags of dist/cli.js's shebang, which `node dist/cli.js` would skip.
  const child = spawn(
    process.execPath,
    ['--max-semi-space-size=8', '--max-old-space-size=256', cli, 'run', '--config', configFile],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const output: string[] = [];
  child.stdout?.on('data', (c: Buffer) => output.push(c.toString()));
  child.stderr?.on('data', (c: Buffer) => output.push(c.toString()));
  return { child, output };
}

async function registered(state: string): Promise<number> {
  try {
    return Object.keys(
      (JSON.parse(await readFile(join(state, 'processed_files.json'), 'utf8')) as { files: object }).files,
    ).length;
  } catch {
    return 0;
  }
}

async function queued(state: string): Promise<number> {
  try {
    return (JSON.parse(await readFile(join(state, 'queue.json'), 'utf8')) as { files: unknown[] }).files
      .length;
  } catch {
    return 0;
  }
}

/** utime + stime of a process in clock ticks (100 per second on Linux), and its RSS in bytes. */
async function usage(pid: number): Promise<{ ticks: number; rss: number }> {
  const stat = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? [];
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { ticks: Number(stat[11]) + Number(stat[12]), rss: rssKb * 1024 };
}

async function main(): Promise<void> {
  await run('npx', ['tsc', '-b'], { cwd: agentDir }); // the bench measures the built daemon, as deployed
  const root = await mkdtemp(join(tmpdir(), 'agent-bench-'));
  const s3 = await startLocalS3({ buckets: ['bench'] });
  try {
    console.log(`Creating ${FILES} files...`);
    await makeTree(join(root, 'logs'));

    // 1. The agent: from process start until every file is registered.
    const state = join(root, 'state-upload');
    const agent = startAgent(await config(root, s3.endpoint, state));
    const t0 = Date.now();
    while ((await registered(state)) < FILES) {
      if (agent.child.exitCode !== null) throw new Error(`agent exited:\n${agent.output.join('')}`);
      await sleep(200);
    }
    const agentSeconds = (Date.now() - t0) / 1000;
    agent.child.kill('SIGTERM');
    await new Promise((r) => agent.child.once('exit', r));

    // 2. The AWS CLI, same tree, same server, its default 10 concurrent requests.
    const t1 = Date.now();
    await run(
      'aws',
      [
        '--endpoint-url',
        s3.endpoint,
        's3',
        'cp',
        '--recursive',
        '--only-show-errors',
        join(root, 'logs'),
        's3://bench/aws-cli/',
      ],
      {
        env: {
          ...process.env,
          AWS_ACCESS_KEY_ID: 'S3RVER',
          AWS_SECRET_ACCESS_KEY: 'S3RVER',
          AWS_DEFAULT_REGION: 'cn-north-1',
          AWS_REQUEST_CHECKSUM_CALCULATION: 'when_required',
          AWS_RESPONSE_CHECKSUM_VALIDATION: 'when_required',
        },
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    const cliSeconds = (Date.now() - t1) / 1000;

    // 3. Idle behind an outage: 10,000 queued, the proxy refusing every connection.
    const proxy = await startFaultProxy({ targetPort: s3.port, mode: { kind: 'refuse' } });
    const idleState = join(root, 'state-idle');
    const idle = startAgent(await config(root, proxy.endpoint, idleState));
    while ((await queued(idleState)) < FILES || !idle.output.join('').includes('Destination unreachable')) {
      if (idle.child.exitCode !== null) throw new Error(`agent exited:\n${idle.output.join('')}`);
      await sleep(500);
    }
    await sleep(5_000); // let start-up garbage settle
    const pid = idle.child.pid as number;
    const before = await usage(pid);
    let peakRss = before.rss;
    for (let s = 0; s < IDLE_SECONDS; s++) {
      await sleep(1000);
      peakRss = Math.max(peakRss, (await usage(pid)).rss);
    }
    const after = await usage(pid);
    idle.child.kill('SIGTERM');
    await new Promise((r) => idle.child.once('exit', r));
    await proxy.close();

    const cpuPercent = ((after.ticks - before.ticks) / 100 / IDLE_SECONDS) * 100;
    console.log(
      `\nFiles: ${FILES} small files (~1 KB), s3rver on loopback, ${CONCURRENCY} concurrent uploads`,
    );
    console.log(
      `tvm-upload run (start, detect, upload, register): ${agentSeconds.toFixed(1)} s = ${(FILES / agentSeconds).toFixed(0)} files/s`,
    );
    console.log(
      `aws s3 cp --recursive:                         ${cliSeconds.toFixed(1)} s = ${(FILES / cliSeconds).toFixed(0)} files/s`,
    );
    console.log(
      `Idle with ${FILES} queued behind an outage, over ${IDLE_SECONDS} s: CPU ${cpuPercent.toFixed(2)}% of one core, RSS ${(after.rss / 2 ** 20).toFixed(0)} MiB (peak ${(peakRss / 2 ** 20).toFixed(0)} MiB)`,
    );
  } finally {
    await s3.close();
    await rm(root, { recursive: true, force: true });
  }
}

await main();
