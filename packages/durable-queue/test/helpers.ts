import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createFakeClock, type FakeClock } from '@tvm/test-utils';
import { afterEach } from 'vitest';
import { openStateStore, type Logger, type StateStore, type StateStoreOptions } from '../src/index.js';

const dirs: string[] = [];
const stores: StateStore[] = [];

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close().catch(() => undefined);
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** A fresh temp directory, removed after the test. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'durable-queue-'));
  dirs.push(dir);
  return dir;
}

/** A logger that records its lines. */
export interface RecordingLogger extends Logger {
  readonly lines: string[];
}

/** Records every line as `<level>: <message>`. */
export function recordingLogger(): RecordingLogger {
  const lines: string[] = [];
  return {
    lines,
    debug: (m) => lines.push(`debug: ${m}`),
    info: (m) => lines.push(`info: ${m}`),
    warn: (m) => lines.push(`warn: ${m}`),
    error: (m) => lines.push(`error: ${m}`),
  };
}

/** The test context of one state directory: a fake clock and a recording logger. */
export interface Fixture {
  dir: string;
  clock: FakeClock;
  logger: RecordingLogger;
  open(extra?: Partial<StateStoreOptions>): Promise<StateStore>;
}

/** Creates a temp state directory with a fake clock; stores it opens are closed after the test. */
export async function fixture(): Promise<Fixture> {
  const dir = await tempDir();
  const clock = createFakeClock();
  const logger = recordingLogger();
  return {
    dir,
    clock,
    logger,
    async open(extra = {}) {
      const store = await openStateStore({ directory: dir, clock, logger, ...extra });
      stores.push(store);
      return store;
    },
  };
}

/** Parses a state file as `jq` would: untyped on purpose, the tests probe the raw document. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function readJson(path: string): Promise<any> {
  return JSON.parse(await readFile(path, 'utf8'));
}

const tsxLoader = createRequire(import.meta.url).resolve('tsx');

/** Spawns a TypeScript fixture in a real Node process (tsx, `@tvm/source` conditions), stdout piped. */
export function spawnFixture(name: string, args: string[]): ChildProcessByStdio<null, Readable, Readable> {
  const file = fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
  return spawn(
    process.execPath,
    ['--import', tsxLoader, '--conditions=@tvm/source', '--no-warnings', file, ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
}

/** Resolves with the first stdout line of a child that matches. */
export function waitForLine(
  child: ChildProcessByStdio<null, Readable, Readable>,
  pattern: RegExp,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    let stderr = '';
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const line = buffered.split('\n').find((l) => pattern.test(l));
      if (line !== undefined) {
        child.stdout.off('data', onData);
        resolve(line);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before ${pattern}: ${stderr}`)));
  });
}

/**
 * Starts a crash-test victim, waits for its `READY`, then SIGKILLs it once `target` of its stdout lines matched
 * `acknowledged` (with `target` 0: within 20 ms of READY). Resolves with every complete line it printed.
 */
export async function killAfter(
  child: ChildProcessByStdio<null, Readable, Readable>,
  acknowledged: RegExp,
  target: number,
): Promise<string[]> {
  let buffered = '';
  const lines: string[] = [];
  let count = 0;
  let reached!: () => void;
  const enough = new Promise<void>((resolve) => (reached = resolve));
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const complete = buffered.split('\n');
    buffered = complete.pop() ?? '';
    lines.push(...complete);
    for (const line of complete) if (acknowledged.test(line)) count++;
    if (count >= target) reached();
  });
  await waitForLine(child, /^READY$/);
  if (target === 0) await new Promise((resolve) => setTimeout(resolve, Math.random() * 20));
  else await enough;
  child.kill('SIGKILL');
  await once(child, 'close');
  return lines;
}
