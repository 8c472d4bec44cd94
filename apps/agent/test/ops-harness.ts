import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleAgent } from '../scripts/bundle.js';

/** What a CLI run printed and its exit code. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Builds the vehicle bundle into a temp directory: the tests spawn the artefact that vehicles run. */
export async function buildCli(): Promise<{ cli: string; dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'tvm-cli-'));
  const cli = await bundleAgent(join(dir, 'vehicle'));
  return { cli, dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Environment for spawned agents: no real AWS credentials, no metadata service, no SDK version warning. */
export function isolatedEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('AWS_')) delete env[name];
  return {
    ...env,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...extra,
  };
}

/** Runs `node <bundle> ...args`. */
export function runCli(
  cli: string,
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, ...args],
      { env: isolatedEnv(env), timeout: timeoutMs },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

/** A temp workspace: log directory, state directory, AWS shared files and a config pointing at them. */
export interface Workspace {
  root: string;
  logs: string;
  state: string;
  config: string;
  cleanup(): Promise<void>;
}

/** Options of {@link createWorkspace}. */
export interface WorkspaceOptions {
  endpoint?: string;
  bucket?: string;
  accessKeyId?: string;
  /** Extra YAML appended under `upload:`. */
  upload?: string;
  /** Extra top-level YAML. */
  extra?: string;
}

/** Creates a workspace whose config uses profile `tvm` from its own `.aws/credentials`. */
export async function createWorkspace(options: WorkspaceOptions = {}): Promise<Workspace> {
  const root = await mkdtemp(join(tmpdir(), 'tvm-ops-'));
  const logs = join(root, 'logs');
  const state = join(root, 'state');
  await mkdir(join(logs, 'ros'), { recursive: true });
  await mkdir(join(logs, 'terminal'), { recursive: true });
  await mkdir(join(root, '.aws'));
  await writeFile(
    join(root, '.aws', 'credentials'),
    `[tvm]\naws_access_key_id = ${options.accessKeyId ?? 'S3RVER'}\naws_secret_access_key = S3RVER\n`,
  );
  const config = join(root, 'config.yaml');
  await writeFile(
    config,
    [
      'vehicle_id: vehicle-TEST-001',
      'log_directories:',
      `  - { path: ${join(logs, 'terminal')}, source: terminal }`,
      `  - { path: ${join(logs, 'ros')}, source: ros }`,
      's3:',
      `  bucket: ${options.bucket ?? 'test-bucket'}`,
      '  region: cn-north-1',
      '  profile: tvm',
      `  credentials_path: ${join(root, '.aws')}`,
      `  endpoint: ${options.endpoint ?? 'http://127.0.0.1:9'}`,
      '  force_path_style: true',
      '  checksum_mode: when_required',
      'upload:',
      `  queue_file: ${join(state, 'queue.json')}`,
      `  processed_files_registry: { registry_file: ${join(state, 'processed_files.json')} }`,
      ...(options.upload ? options.upload.split('\n').map((l) => `  ${l}`) : []),
      options.extra ?? '',
      '',
    ].join('\n'),
  );
  return { root, logs, state, config, cleanup: () => rm(root, { recursive: true, force: true }) };
}

/** Writes queue.json / failed.json as the store does (version 2, `files`). */
export async function writeState(
  state: string,
  files: { queue?: object[]; failed?: object[]; registry?: object[] },
): Promise<void> {
  await mkdir(state, { recursive: true });
  if (files.queue)
    await writeFile(join(state, 'queue.json'), JSON.stringify({ version: 2, files: files.queue }));
  if (files.failed)
    await writeFile(join(state, 'failed.json'), JSON.stringify({ version: 2, files: files.failed }));
  if (files.registry) {
    await writeFile(
      join(state, 'processed_files.json'),
      JSON.stringify({ version: 2, files: files.registry }),
    );
  }
}

/** A running `tvm-upload run`, its combined output (as journald would hold it) mirrored into `logFile`. */
export interface RunningAgent {
  pid: number;
  logFile: string;
  output(): string;
  /** Resolves once the output matches `pattern` (count times), rejects after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number, count?: number): Promise<void>;
  /** SIGTERM, then resolves to the exit code. */
  stop(): Promise<number | null>;
}

/** Starts the bundled agent in the background. */
export async function startAgent(
  cli: string,
  config: string,
  logFile: string,
  env: Record<string, string> = {},
): Promise<RunningAgent> {
  const { spawn } = await import('node:child_process');
  const { appendFileSync, writeFileSync } = await import('node:fs');
  writeFileSync(logFile, '');
  const child = spawn(process.execPath, [cli, 'run', '--config', config], {
    env: isolatedEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const onData = (chunk: Buffer) => {
    text += chunk.toString();
    appendFileSync(logFile, chunk);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    pid: child.pid ?? 0,
    logFile,
    output: () => text,
    async waitFor(pattern, timeoutMs = 30_000, count = 1) {
      const deadline = Date.now() + timeoutMs;
      const global = new RegExp(
        pattern.source,
        pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`,
      );
      while ((text.match(global)?.length ?? 0) < count) {
        if (child.exitCode !== null)
          throw new Error(`agent exited (${child.exitCode}) before ${pattern}:\n${text}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern} x${count}:\n${text}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Runs a shell command line (the runbook's own pipelines) and returns what it printed. */
export function sh(command: string): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile('bash', ['-c', command], { timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/** Runs an executable with exactly `env`, without blocking the event loop (the test's servers run in-process). */
export function runFile(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}
