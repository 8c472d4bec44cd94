import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { GetObjectCommand, ListObjectsCommand, type S3Client } from '@aws-sdk/client-s3';
import { readStateSnapshot } from '@tvm/durable-queue';
import { startLocalS3, type LocalS3 } from '@tvm/test-utils';
import { afterAll, beforeAll } from 'vitest';
import { stringify } from 'yaml';
import { parseConfig, type AgentConfig } from '../src/config.js';
import { createLogger, type AgentLogger } from '../src/logger.js';

/** A temp tree for one agent: log directories, state, AWS credentials. */
export interface Workspace {
  root: string;
  logs: string;
  state: string;
  aws: string;
  configFile: string;
}

// The temporary directories a test file made, removed once its tests are done. Registered when the file imports
// this module, so this hook runs after the file's own (which stop the daemons and servers that use them).
const temporary: string[] = [];
afterAll(async () => {
  await Promise.all(temporary.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A new directory under the system's temporary directory, removed after the test file's tests. */
export async function tempDirectory(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  temporary.push(dir);
  return dir;
}

/** Creates the tree and a credentials file whose `test` profile s3rver accepts; removed after the file's tests. */
export async function makeWorkspace(accessKeyId = 'S3RVER'): Promise<Workspace> {
  const root = await tempDirectory('agent-e2e-');
  const ws = {
    root,
    logs: join(root, 'logs'),
    state: join(root, 'state'),
    aws: join(root, 'aws'),
    configFile: join(root, 'config.yaml'),
  };
  for (const dir of [ws.logs, ws.state, ws.aws]) await mkdir(dir, { recursive: true });
  await writeCredentials(ws, accessKeyId);
  return ws;
}

/** Rewrites the `test` profile of the workspace's credentials file. */
export async function writeCredentials(ws: Workspace, accessKeyId: string): Promise<void> {
  await writeFile(
    join(ws.aws, 'credentials'),
    `[test]\naws_access_key_id = ${accessKeyId}\naws_secret_access_key = S3RVER\n`,
  );
}

/** The four sources of a vehicle, under the workspace's log directory. */
export const SOURCES = ['terminal', 'ros', 'syslog', 'ros2'] as const;

export type Tree = Record<string, unknown>;

/** `extra` over `base`: objects merged key by key, arrays and other values replaced. */
export function merge(base: Tree, extra: Tree): Tree {
  const out: Tree = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const current = out[key];
    out[key] =
      value && typeof value === 'object' && !Array.isArray(value) && current && typeof current === 'object'
        ? merge(current as Tree, value as Tree)
        : value;
  }
  return out;
}

/** A config document for the workspace against `endpoint`; `extra` is merged in. */
export function configDocument(ws: Workspace, endpoint: string, bucket: string, extra: Tree = {}): Tree {
  return merge(
    {
      vehicle_id: 'vehicle-CN-001',
      log_directories: SOURCES.map((source) => ({ path: join(ws.logs, source), source })),
      s3: {
        bucket,
        region: 'cn-north-1',
        profile: 'test',
        credentials_path: ws.aws,
        endpoint,
        force_path_style: true,
        checksum_mode: 'when_required',
      },
      upload: {
        file_stable_seconds: 1,
        operational_hours: { enabled: false },
        queue_file: join(ws.state, 'queue.json'),
        processed_files_registry: { registry_file: join(ws.state, 'processed_files.json') },
        retry: { initial_delay_seconds: 0.05, max_delay_seconds: 0.5 },
        timezone: 'UTC',
      },
      monitoring: { cloudwatch_enabled: false },
    },
    extra,
  );
}

/** Writes the config file and returns it parsed. */
export async function writeConfig(ws: Workspace, document: Tree): Promise<AgentConfig> {
  const text = stringify(document);
  await writeFile(ws.configFile, text);
  return parseConfig(text, { env: {} }).config;
}

/** Writes a log file (creating folders), with its mtime `ageMs` in the past. */
export async function writeLog(path: string, body: string | Buffer, ageMs = 3_600_000): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, body);
  const when = new Date(Date.now() - ageMs);
  await utimes(path, when, when);
}

/** A logger that keeps its lines (without the journal prefix) for assertions. */
export function captureLogger(): AgentLogger & { lines: string[] } {
  const lines: string[] = [];
  const logger = createLogger({
    level: 'debug',
    journal: true,
    write: (line) => lines.push(line.replace(/^<\d>/, '').trimEnd()),
  });
  return Object.assign(logger, { lines });
}

/** Every object in the bucket: key -> bytes. (ListObjects v1 with markers: s3rver 3.7 fails v2 continuations.) */
export async function objects(client: S3Client, bucket: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  let marker: string | undefined;
  for (;;) {
    const page = await client.send(new ListObjectsCommand({ Bucket: bucket, Marker: marker }));
    const contents = page.Contents ?? [];
    const keys = contents.map((item) => item.Key as string);
    // Sixteen reads at a time: a 2,000-object check takes seconds, not a minute.
    for (let i = 0; i < keys.length; i += 16) {
      await Promise.all(
        keys.slice(i, i + 16).map(async (key) => {
          const got = await client
            .send(new GetObjectCommand({ Bucket: bucket, Key: key }))
            .catch((error: unknown) => {
              throw new Error(`GetObject ${key} failed: ${(error as Error).message}`, { cause: error });
            });
          out.set(
            key,
            Buffer.from(
              await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
            ),
          );
        }),
      );
    }
    if (!page.IsTruncated || contents.length === 0) return out;
    marker = contents.at(-1)?.Key;
  }
}

/** Polls `predicate` in real time. */
export async function until(
  predicate: () => boolean | Promise<boolean>,
  ms = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** An entry of `queue.json` or `failed.json`, as the runbook's `jq '.files[]'` sees it. */
export type ListedFile = { filepath: string; category?: string } & Record<string, unknown>;

/** The `files` of `queue.json` or `failed.json` in `state`; [] while the file has never been written. */
export async function stateList(state: string, name: 'queue.json' | 'failed.json'): Promise<ListedFile[]> {
  let text: string;
  try {
    text = await readFile(join(state, name), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return (JSON.parse(text) as { files: ListedFile[] }).files;
}

/**
 * How many uploads the registry in `state` records (`processed_files.json` with its journal replayed, as the CLI
 * reads it); 0 while it has never been written.
 */
export async function registeredCount(state: string): Promise<number> {
  return (await readStateSnapshot({ directory: state })).registry.length;
}

/**
 * Starts a server for the tests of one file (in beforeAll; closed in afterAll) and returns its reader, which throws
 * `<what> starts in beforeAll; use it inside a test` when called before then.
 */
export function useStarted<T extends { close(): Promise<void> }>(
  what: string,
  start: () => Promise<T>,
): () => T {
  let server: T | undefined;
  beforeAll(async () => {
    server = await start();
  });
  afterAll(async () => {
    await server?.close();
  });
  return () => {
    if (!server) throw new Error(`${what} starts in beforeAll; use it inside a test`);
    return server;
  };
}

/**
 * A local S3 server for the tests of one file: started before them, closed after. The returned object reads the
 * running server, so `const s3 = useLocalS3()` at the top of a file is all a test needs.
 */
export function useLocalS3(buckets: string[] = ['t01logs']): LocalS3 {
  const started = useStarted('useLocalS3: the server', () => startLocalS3({ buckets }));
  return {
    get endpoint() {
      return started().endpoint;
    },
    get port() {
      return started().port;
    },
    get bucket() {
      return started().bucket;
    },
    get directory() {
      return started().directory;
    },
    client: (overrides) => started().client(overrides),
    close: () => started().close(),
  };
}
