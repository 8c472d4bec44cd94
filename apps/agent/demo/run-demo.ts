/**
 * The one-command local demo (`pnpm start` at the repository root): the real agent, as vehicles run it, uploading
 * generated vehicle logs to an S3-compatible server on 127.0.0.1. No AWS account, no network beyond loopback.
 * Options: --seconds <n> stops by itself after n seconds (CI); --port <n> for the S3 server (default 4568, 0 = any);
 * --dir <path> instead of <repo>/.demo.
 * Ctrl-C stops the generator, lets the agent drain, stops the server and prints what landed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs, styleText } from 'node:util';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
// s3rver ships no types; its constructor and run/close are all the demo uses.
// @ts-expect-error -- untyped CommonJS module
import S3rverModule from 's3rver';
import { bundleAgent } from '../scripts/bundle.js';
import { runGenerator } from './generator.js';

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
const S3rver = S3rverModule as new (options: Record<string, unknown>) => S3rverInstance;

const agentDir = resolve(fileURLToPath(new URL('..', import.meta.url)));
const repo = resolve(agentDir, '../..');
const bundleDir = join(agentDir, 'dist', 'vehicle');
const bundle = join(bundleDir, 'tvm-upload.mjs');
const BUCKET = 'tvm-demo';
// s3rver accepts only this access key id; it does not check signatures.
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

// The SDK warns that releases after January 2027 need Node 22; on a demo screen that is noise.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';

const { values } = parseArgs({
  // pnpm 12 hands `pnpm start -- --dir x` over with its `--`; `pnpm start --dir x` is pnpm's own --dir.
  args: process.argv.slice(2).filter((arg, index) => !(index === 0 && arg === '--')),
  options: {
    seconds: { type: 'string' },
    port: { type: 'string', default: '4568' },
    dir: { type: 'string' },
  },
});
// Git-ignored; wiped at every start.
const demoDir = resolve(values.dir ?? join(repo, '.demo'));
const tty = process.stdout.isTTY === true;
type Style = Parameters<typeof styleText>[0];
const paint = (style: Style, text: string) => (tty ? styleText(style, text) : text);
const clock = () => new Date().toTimeString().slice(0, 8);
const say = (who: string, style: Style, text: string) =>
  process.stdout.write(`${clock()} ${paint(style, who.padEnd(9))} ${text}\n`);

/** The newest modification time under `dir` (source files), to decide whether the bundle is stale. */
async function newestMtime(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => [])) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const s = await stat(join(entry.parentPath, entry.name)).catch(() => undefined);
    if (s && s.mtimeMs > newest) newest = s.mtimeMs;
  }
  return newest;
}

async function buildIfNeeded(): Promise<void> {
  const built = await stat(bundle).then(
    (s) => s.mtimeMs,
    () => 0,
  );
  const sources = [
    join(agentDir, 'src'),
    ...(await readdir(join(repo, 'packages'))).map((p) => join(repo, 'packages', p, 'src')),
  ];
  const newest = Math.max(...(await Promise.all(sources.map(newestMtime))));
  if (built > newest) return;
  say(
    'demo',
    'bold',
    built === 0
      ? 'building the vehicle build (first run)...'
      : 'sources changed: rebuilding the vehicle build...',
  );
  await bundleAgent(bundleDir);
}

async function startS3(port: number): Promise<{ server: S3rverInstance; endpoint: string }> {
  const options = {
    address: '127.0.0.1',
    directory: join(demoDir, 's3'),
    silent: true,
    configureBuckets: [{ name: BUCKET }],
  };
  try {
    const server = new S3rver({ ...options, port });
    const address = await server.run();
    return { server, endpoint: `http://127.0.0.1:${address.port}` };
  } catch {
    // The port is taken (another demo?): any free port will do.
    const server = new S3rver({ ...options, port: 0 });
    const address = await server.run();
    return { server, endpoint: `http://127.0.0.1:${address.port}` };
  }
}

/** Rewrites one agent log line for the demo: local time, and a colour per event. */
function showAgentLine(line: string): void {
  const text = line.replace(/^\S+Z (DEBUG|INFO |WARN |ERROR) /, '').replace(/^<\d>/, '');
  const root = `${demoDir}/`;
  const short = text.split(root).join('.demo/');
  let style: Style = 'dim';
  if (/^Uploaded /.test(text)) style = 'green';
  else if (/^Deleted /.test(text)) style = 'yellow';
  else if (/^Queued /.test(text)) style = 'cyan';
  else if (/^Pausing the |paused after its current part/.test(text)) style = 'magenta';
  else if (/Retry \d+\/\d+|PERMANENT FAILURE|Permanent upload error/.test(text)) style = 'red';
  else if (/^Upload run|started|Stopped|stopping/.test(text)) style = 'white';
  say('agent', 'blue', paint(style, short));
}

/** Shows a large file's multipart progress from the durable queue (the agent persists each completed part). */
function watchMultipart(queueFile: string, signal: AbortSignal): void {
  const shown = new Map<string, number>();
  const timer = setInterval(async () => {
    let files: Array<{
      filepath: string;
      size?: number;
      multipart?: { partSize: number; parts: Array<{ size?: number }> };
    }>;
    try {
      files = (JSON.parse(await readFile(queueFile, 'utf8')) as { files: typeof files }).files;
    } catch {
      return;
    }
    for (const entry of files) {
      if (!entry.multipart || !entry.size) continue;
      const done = entry.multipart.parts.reduce((sum, p) => sum + (p.size ?? entry.multipart!.partSize), 0);
      if (shown.get(entry.filepath) === done) continue;
      shown.set(entry.filepath, done);
      const width = 24;
      const filled = Math.round((done / entry.size) * width);
      const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
      say(
        'progress',
        'magenta',
        `${bar} ${(done / 2 ** 20).toFixed(0)}/${(entry.size / 2 ** 20).toFixed(0)} MiB ${relative(repo, entry.filepath)}`,
      );
    }
  }, 250);
  signal.addEventListener('abort', () => clearInterval(timer));
}

async function listBucket(endpoint: string): Promise<string[]> {
  const client = new S3Client({
    endpoint,
    region: 'cn-north-1',
    forcePathStyle: true,
    credentials: CREDENTIALS,
  });
  try {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, ContinuationToken: token }));
      for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
      token = page.NextContinuationToken;
    } while (token);
    return keys;
  } finally {
    client.destroy();
  }
}

function printHowToLook(endpoint: string): void {
  const lines = [
    'See what landed (while the demo runs):',
    `  AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER aws --endpoint-url ${endpoint} --region cn-north-1 s3 ls s3://${BUCKET} --recursive`,
    `  on disk: ${relative(process.cwd(), join(demoDir, 's3', BUCKET)) || '.'}/ (s3rver keeps each object as <key>._S3rver_object)`,
    `  the agent's own view: node ${relative(process.cwd(), bundle)} status --config ${relative(process.cwd(), join(demoDir, 'config.yaml'))}`,
    '  (also: queue, failed, cleanup --dry-run; add --json for machine-readable output)',
  ];
  for (const line of lines) say('demo', 'bold', line);
}

async function main(): Promise<number> {
  const started = Date.now();
  await buildIfNeeded();
  // Every run starts from nothing: old logs, state and objects from a previous demo would only confuse.
  await rm(demoDir, { recursive: true, force: true });
  await mkdir(join(demoDir, 'aws'), { recursive: true });
  await writeFile(
    join(demoDir, 'aws', 'credentials'),
    `[demo]\naws_access_key_id = ${CREDENTIALS.accessKeyId}\naws_secret_access_key = ${CREDENTIALS.secretAccessKey}\n`,
  );
  const config = join(demoDir, 'config.yaml');
  // The variables are filled in here, so `tvm-upload status --config .demo/config.yaml` works from any shell.
  const template = await readFile(join(agentDir, 'demo', 'config.yaml'), 'utf8');

  const { server, endpoint } = await startS3(Number(values.port));
  await writeFile(
    config,
    template.replaceAll('${TVM_DEMO_DIR}', demoDir).replaceAll('${TVM_DEMO_S3_ENDPOINT}', endpoint),
  );
  say('s3', 'magenta', `s3rver listening on ${endpoint}, bucket ${BUCKET} (loopback only)`);
  printHowToLook(endpoint);

  const stop = new AbortController();
  const env = {
    ...process.env,
    TVM_DEMO_DIR: demoDir,
    TVM_DEMO_S3_ENDPOINT: endpoint,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  const agent: ChildProcess = spawn(process.execPath, [bundle, 'run', '--config', config], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  say(
    'agent',
    'blue',
    `started: node ${relative(repo, bundle)} run --config .demo/config.yaml (pid ${agent.pid})`,
  );
  for (const stream of [agent.stdout, agent.stderr]) {
    if (stream) createInterface({ input: stream }).on('line', showAgentLine);
  }
  const exited = new Promise<number>((done) =>
    agent.on('exit', (code, signal) => done(code ?? (signal ? 1 : 0))),
  );
  let agentDone = false;
  exited.then(
    (code) => {
      agentDone = true;
      if (!stop.signal.aborted) {
        say('demo', 'red', `the agent exited unexpectedly (code ${code})`);
        stop.abort();
      }
    },
    () => undefined, // `exited` never rejects
  );

  watchMultipart(join(demoDir, 'state', 'queue.json'), stop.signal);
  const generator = runGenerator({
    logs: join(demoDir, 'logs'),
    signal: stop.signal,
    onFile: (message) => say('generator', 'cyan', message.split(`${demoDir}/`).join('.demo/')),
  });

  const shutdown = (why: string) => {
    if (stop.signal.aborted) return;
    say('demo', 'bold', `${why}: stopping the generator, then the agent (it finishes within 10 s)...`);
    stop.abort();
  };
  process.on('SIGINT', () => shutdown('Ctrl-C'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  if (values.seconds !== undefined) {
    setTimeout(() => shutdown(`${values.seconds} s elapsed`), Number(values.seconds) * 1000).unref();
  }
  await new Promise<void>((done) => stop.signal.addEventListener('abort', () => done(), { once: true }));
  await generator;
  if (!agentDone) {
    // Ctrl-C in a terminal reaches the agent too (same process group); send it anyway for --seconds and SIGTERM.
    agent.kill('SIGINT');
    const timer = setTimeout(() => agent.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
  const code = await exited;
  let keys: string[] = [];
  try {
    keys = await listBucket(endpoint);
  } catch (error) {
    say('demo', 'red', `could not list the bucket: ${(error as Error).message}`);
  }
  await server.close();
  say(
    'demo',
    'bold',
    `${keys.length} object(s) in s3://${BUCKET} after ${Math.round((Date.now() - started) / 1000)} s:`,
  );
  for (const key of keys.slice(0, 30)) say('demo', 'green', `  ${key}`);
  if (keys.length > 30) say('demo', 'green', `  ... and ${keys.length - 30} more`);
  say(
    'demo',
    'bold',
    `objects stay on disk under ${relative(process.cwd(), join(demoDir, 's3', BUCKET))}/ until the next pnpm start`,
  );
  if (keys.length === 0) say('demo', 'red', 'nothing was uploaded: see the agent lines above');
  // A demo that uploaded nothing is a failure (CI runs it with --seconds).
  return code === 0 && keys.length > 0 ? 0 : 1;
}

process.exitCode = await main();
