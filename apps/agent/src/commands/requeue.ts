import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  QueueError,
  openStateStore,
  readPendingRequests,
  requestRequeue,
  resolvePaths,
  type StatePathsOptions,
} from '@tvm/durable-queue';
import { statePaths } from '../config.js';
import { silentLogger } from '../logger.js';
import { EXIT, loadCommandConfig, parseCommandArgs, printJson, processIo, type CommandIo } from './shared.js';
import { readOpsState } from './state.js';

const USAGE = `Usage: tvm-upload requeue <path>... [--config <path>] [--json] [--timeout <seconds>]
       tvm-upload requeue --all-failed [--config <path>] [--json]
Moves files from the failed list back to the upload queue (after you fixed the cause). A running agent picks the
request up by itself, without a restart; with no agent running the queue is updated directly.
`;

/**
 * `tvm-upload requeue`: leaves a requeue request for the store (durable-queue's request files, never the writer's
 * lock while the daemon holds it), then waits up to `--timeout` seconds for the running agent to apply it.
 * Exit 0 when every named file was requeued (or handed to the running agent), 1 when a path is not on the failed
 * list or the config is invalid, 2 for usage errors.
 */
export async function requeueCommand(args: string[], io: CommandIo = processIo): Promise<number> {
  const parsed = parseCommandArgs(
    args,
    { 'all-failed': { type: 'boolean', default: false }, timeout: { type: 'string', default: '15' } },
    USAGE,
    io,
    true,
  );
  if ('exit' in parsed) return parsed.exit;
  const { values, positionals } = parsed;
  const timeoutSeconds = Number(values.timeout);
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds < 0) {
    io.stderr(`--timeout must be a number of seconds >= 0, got ${JSON.stringify(values.timeout)}\n${USAGE}`);
    return EXIT.usage;
  }
  if (values['all-failed'] === positionals.length > 0) {
    io.stderr(`Name the files to requeue, or pass --all-failed (not both).\n${USAGE}`);
    return EXIT.usage;
  }
  const config = await loadCommandConfig(values.config, io);
  if (!config) return EXIT.failure;
  const state = await readOpsState(config);
  const failed = new Set(state.snapshot.failed.map((e) => e.filepath));
  const queued = new Set(state.snapshot.queue.map((e) => e.filepath));

  const targets: string[] = [];
  const alreadyQueued: string[] = [];
  const unknown: string[] = [];
  if (values['all-failed']) {
    if (failed.size > 0) targets.push('all');
  } else {
    for (const path of positionals.map((p) => resolve(p))) {
      if (failed.has(path)) targets.push(path);
      else if (queued.has(path)) alreadyQueued.push(path);
      else unknown.push(path);
    }
  }
  const count = values['all-failed'] ? failed.size : targets.length;

  const paths = statePaths(config);
  const storePaths: StatePathsOptions = {
    queueFile: paths.queueFile,
    failedFile: paths.failedFile,
    registryFile: paths.registryFile,
  };
  let appliedBy: 'agent' | 'cli' | 'pending' | 'nothing' = 'nothing';
  let requeued = 0;
  if (targets.length > 0) {
    const files = [];
    for (const target of targets) files.push(await requestRequeue(storePaths, target));
    if (state.agentPid !== undefined) {
      // The running agent polls its requests directory; wait for it to take ours.
      if (!values.json)
        io.stdout(`Waiting up to ${timeoutSeconds} s for the running agent (pid ${state.agentPid})...\n`);
      appliedBy = (await waitForRequests(
        resolvePaths(storePaths).requestsDirectory,
        files,
        timeoutSeconds * 1000,
      ))
        ? 'agent'
        : 'pending';
      if (appliedBy === 'agent') requeued = count;
    } else {
      try {
        // No agent: opening the store applies pending requests, makes them durable, and releases the lock.
        const store = await openStateStore({ ...storePaths, logger: silentLogger });
        await store.close();
        appliedBy = 'cli';
        requeued = count;
      } catch (error) {
        // An agent started in between and holds the lock: it applies the request when it polls.
        if (error instanceof QueueError && error.code === 'LOCKED') appliedBy = 'pending';
        else throw error;
      }
    }
  }

  if (values.json) {
    printJson(io, {
      requeued,
      appliedBy,
      agentPid: state.agentPid ?? null,
      alreadyQueued,
      notFailed: unknown,
    });
  } else {
    if (values['all-failed'] && failed.size === 0) io.stdout('No failed files to requeue.\n');
    if (appliedBy === 'agent')
      io.stdout(
        `Requeued ${requeued} file(s); the running agent (pid ${state.agentPid}) took the request.\n`,
      );
    if (appliedBy === 'cli')
      io.stdout(`Requeued ${requeued} file(s) (no agent running: they upload when it starts).\n`);
    if (appliedBy === 'pending') {
      io.stdout(
        `Requested a requeue of ${count} file(s); the running agent${state.agentPid === undefined ? '' : ` (pid ${state.agentPid})`} has not taken it yet and will on its next poll.\n`,
      );
    }
    for (const path of alreadyQueued) io.stdout(`Already queued: ${path}\n`);
    for (const path of unknown) io.stderr(`Not in the failed list: ${path} (see: tvm-upload failed)\n`);
  }
  return unknown.length > 0 ? EXIT.failure : EXIT.ok;
}

/** Resolves true once none of `files` waits in the requests directory any more, false after `timeoutMs`. */
async function waitForRequests(
  requestsDirectory: string,
  files: string[],
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const ours = new Set(files);
  for (;;) {
    const pending = await readPendingRequests(requestsDirectory);
    if (!pending.some((p) => ours.has(p.file))) return true;
    if (Date.now() >= deadline) return false;
    await sleep(200);
  }
}
