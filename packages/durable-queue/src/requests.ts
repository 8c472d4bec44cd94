import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import {
  createDurably,
  ensureDirectory,
  listDirectory,
  readTextIfExists,
  removeFile,
  renameFile,
} from './adapters/files.js';
import { systemClock, type Clock } from './clock.js';
import { QueueError, formatValue, invalidOption, messageOf } from './errors.js';
import type { FailedEntry, QueueEntry } from './entries.js';
import type { Logger } from './logger.js';
import { resolvePaths, type StatePathsOptions } from './options.js';

/** A request another process (the CLI) leaves for the running store: move failed files back to the queue. */
export interface RequeueRequest {
  readonly type: 'requeue';
  /** A failed file's path, or `'all'`. */
  readonly target: string;
  /** When it was requested (epoch ms). */
  readonly requestedAt: number;
}

/** A request file found in the requests directory. */
export interface PendingRequest {
  readonly file: string;
  readonly request?: RequeueRequest;
  /** Why the file is not a valid request. */
  readonly problem?: string;
}

/**
 * Asks the store that owns the state directory to requeue failed files, without taking its lock: writes one
 * request file (temp, fsync, rename) into the requests directory. The running store applies it on its next
 * `pollRequests()`; a stopped one when it next opens. Resolves with the request file's path.
 * @throws TypeError for a target that is not a non-empty string.
 */
export async function requestRequeue(
  options: StatePathsOptions & { clock?: Clock },
  target: string,
): Promise<string> {
  if (typeof target !== 'string' || target === '')
    invalidOption('target', "a failed file's path or 'all'", target);
  const { requestsDirectory } = resolvePaths(options);
  const now = (options.clock ?? systemClock).now();
  await ensureDirectory(requestsDirectory);
  const file = join(requestsDirectory, requestName(now, '.json'));
  const request: RequeueRequest = { type: 'requeue', target, requestedAt: now };
  await createDurably(file, `${JSON.stringify(request)}\n`);
  return file;
}

/** Reads the request files waiting in a requests directory, oldest first. Never writes. */
export async function readPendingRequests(requestsDirectory: string): Promise<PendingRequest[]> {
  const names = (await listDirectory(requestsDirectory))
    .filter((n) => n.endsWith('.json') && !n.endsWith(FORGET_SUFFIX))
    .sort();
  const pending: PendingRequest[] = [];
  for (const name of names) {
    const file = join(requestsDirectory, name);
    let text: string | undefined;
    try {
      text = await readTextIfExists(file);
    } catch (error) {
      if (error instanceof QueueError) {
        pending.push({ file, problem: messageOf(error) });
        continue;
      }
      throw error;
    }
    if (text === undefined) continue;
    pending.push(parseRequest(file, text));
  }
  return pending;
}

function parseRequest(file: string, text: string): PendingRequest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { file, problem: `not valid JSON: ${messageOf(error)}` };
  }
  const value = json as Partial<RequeueRequest> | null;
  if (value?.type !== 'requeue' || typeof value.target !== 'string' || value.target === '') {
    return {
      file,
      problem: `expected { "type": "requeue", "target": <path or "all"> }, got ${formatValue(json)}`,
    };
  }
  const requestedAt = typeof value.requestedAt === 'number' ? value.requestedAt : 0;
  return { file, request: { type: 'requeue', target: value.target, requestedAt } };
}

// Zero-padded time first, so that a directory listing sorts requests in the order they were made.
function requestName(now: number, suffix: string): string {
  return `${String(now).padStart(15, '0')}-${process.pid}-${randomUUID().slice(0, 8)}${suffix}`;
}

/**
 * Forget requests end with this, so that `readPendingRequests()` (and the store's `pollRequests()`, which only knows
 * requeue requests) leave them alone; `applyForgetRequests()` takes them.
 */
export const FORGET_SUFFIX = '.forget.json';

/** One file deleted before it was uploaded, with the size and mtime its queue or failed entry recorded. */
export interface ForgottenFile {
  readonly filepath: string;
  readonly size: number;
  readonly mtimeMs: number;
}

/**
 * A request another process (`tvm-upload cleanup`) leaves for the running store: it deleted these files before they
 * were uploaded, so their queue and failed-list entries must go.
 */
export interface ForgetRequest {
  readonly type: 'forget';
  readonly files: readonly ForgottenFile[];
  /** Why they were deleted, for the log (`"emergency cleanup by tvm-upload cleanup"`). */
  readonly reason: string;
  readonly requestedAt: number;
}

/** What the store must offer to forget files: a `StateStore` does. */
export interface ForgetTarget {
  readonly paths: { readonly requestsDirectory: string };
  readonly queue: {
    get(filepath: string): QueueEntry | undefined;
    remove(filepath: string): Promise<boolean>;
  };
  readonly failed: {
    get(filepath: string): FailedEntry | undefined;
    remove(filepath: string): Promise<boolean>;
  };
  flush(): Promise<void>;
}

/** What `applyForgetRequests()` did. */
export interface ForgetResult {
  /** Request files applied and removed. */
  readonly applied: number;
  /** The files whose entries left the queue or the failed list, each with the reason of its request. */
  readonly forgotten: ReadonlyArray<ForgottenFile & { readonly reason: string }>;
  /** Malformed request files, renamed to `<name>.invalid`. */
  readonly invalid: number;
}

/**
 * Asks the store that owns the state directory to forget files that were deleted before they were uploaded,
 * without taking its lock: writes one request file (temp, fsync, rename). Applied by `applyForgetRequests()`.
 * Resolves with the request file's path.
 * @throws TypeError for an empty list or a file without a path, size or mtime.
 */
export async function requestForget(
  options: StatePathsOptions & { clock?: Clock },
  files: readonly ForgottenFile[],
  reason: string,
): Promise<string> {
  if (!Array.isArray(files) || files.length === 0 || files.some((f) => forgottenProblem(f) !== undefined)) {
    invalidOption('files', 'a non-empty list of { filepath, size, mtimeMs }', files);
  }
  const { requestsDirectory } = resolvePaths(options);
  const now = (options.clock ?? systemClock).now();
  await ensureDirectory(requestsDirectory);
  const file = join(requestsDirectory, requestName(now, FORGET_SUFFIX));
  const request: ForgetRequest = {
    type: 'forget',
    files: files.map(({ filepath, size, mtimeMs }) => ({ filepath, size, mtimeMs })),
    reason,
    requestedAt: now,
  };
  await createDurably(file, `${JSON.stringify(request)}\n`);
  return file;
}

/**
 * Removes the queue and failed-list entries of files that were deleted, but only an entry that still records the
 * deleted version (same size and mtime): a file written again under the same name since is a new file to upload.
 * The entries leave memory at once and `forgotten` names them; `durable` resolves once that is written. A caller that
 * must not wait for a full state disk (the daemon's housekeeping) need not await it.
 */
export function forgetFiles<T extends ForgottenFile>(
  store: ForgetTarget,
  files: readonly T[],
): { forgotten: T[]; durable: Promise<void> } {
  const forgotten: T[] = [];
  const removals: Array<Promise<boolean>> = [];
  for (const file of files) {
    let removed = false;
    for (const list of [store.queue, store.failed]) {
      const entry = list.get(file.filepath);
      if (entry === undefined || entry.size !== file.size || entry.mtimeMs !== file.mtimeMs) continue;
      removals.push(list.remove(file.filepath));
      removed = true;
    }
    if (removed) forgotten.push(file);
  }
  const durable = Promise.all(removals).then(() => store.flush());
  return { forgotten, durable };
}

/**
 * Applies the forget requests waiting in the store's requests directory (see `requestForget()`): removes the entries
 * (`forgetFiles()`), makes that durable, then deletes the request files; malformed ones are renamed to `.invalid`
 * and logged. A crash in between applies them again, which is harmless. Call it from the process holding the lock.
 */
export async function applyForgetRequests(store: ForgetTarget, logger?: Logger): Promise<ForgetResult> {
  const dir = store.paths.requestsDirectory;
  const names = (await listDirectory(dir)).filter((n) => n.endsWith(FORGET_SUFFIX)).sort();
  const valid: Array<{ file: string; request: ForgetRequest }> = [];
  let invalid = 0;
  for (const name of names) {
    const file = join(dir, name);
    let text: string | undefined;
    let problem: string | undefined;
    try {
      text = await readTextIfExists(file);
    } catch (error) {
      if (!(error instanceof QueueError)) throw error;
      problem = messageOf(error);
    }
    if (text === undefined && problem === undefined) continue;
    const parsed = problem === undefined ? parseForget(text as string) : { problem };
    if ('request' in parsed) {
      valid.push({ file, request: parsed.request });
      continue;
    }
    invalid++;
    logger?.warn(`Ignored the request ${file}: ${parsed.problem}; renamed it to .invalid`);
    await renameFile(file, `${file}.invalid`).catch(() => undefined);
  }
  const files = valid.flatMap(({ request }) => request.files.map((f) => ({ ...f, reason: request.reason })));
  let forgotten: typeof files = [];
  if (files.length > 0) {
    const result = forgetFiles(store, files);
    await result.durable; // the request files go only once their effect is durable
    forgotten = result.forgotten;
  }
  for (const { file } of valid) await removeFile(file);
  return { applied: valid.length, forgotten, invalid };
}

function forgottenProblem(value: unknown): string | undefined {
  const f = value as Partial<ForgottenFile> | null;
  if (typeof f !== 'object' || f === null || typeof f.filepath !== 'string' || f.filepath === '')
    return 'a file needs a non-empty `filepath`';
  if (typeof f.size !== 'number' || !(f.size >= 0)) return `${f.filepath}: invalid \`size\``;
  if (typeof f.mtimeMs !== 'number' || !Number.isFinite(f.mtimeMs))
    return `${f.filepath}: invalid \`mtimeMs\``;
  return undefined;
}

function parseForget(text: string): { request: ForgetRequest } | { problem: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { problem: `not valid JSON: ${messageOf(error)}` };
  }
  const value = json as Partial<ForgetRequest> | null;
  const problem =
    value?.type !== 'forget' || !Array.isArray(value.files)
      ? 'expected { "type": "forget", "files": [{ "filepath", "size", "mtimeMs" }, ...] }'
      : value.files.map(forgottenProblem).find((p) => p !== undefined);
  if (problem !== undefined) return { problem: `${problem}, got ${formatValue(json)}` };
  const request = value as ForgetRequest;
  return {
    request: {
      type: 'forget',
      files: request.files.map(({ filepath, size, mtimeMs }) => ({ filepath, size, mtimeMs })),
      reason: typeof request.reason === 'string' ? request.reason : 'deleted before upload',
      requestedAt: typeof request.requestedAt === 'number' ? request.requestedAt : 0,
    },
  };
}
