import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { createDurably, ensureDirectory, listDirectory, readTextIfExists } from './adapters/files.js';
import { systemClock, type Clock } from './clock.js';
import { QueueError, formatValue, invalidOption, messageOf } from './errors.js';
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
  // Zero-padded time first, so that a directory listing sorts requests in the order they were made.
  const name = `${String(now).padStart(15, '0')}-${process.pid}-${randomUUID().slice(0, 8)}.json`;
  const file = join(requestsDirectory, name);
  const request: RequeueRequest = { type: 'requeue', target, requestedAt: now };
  await createDurably(file, `${JSON.stringify(request)}\n`);
  return file;
}

/** Reads the request files waiting in a requests directory, oldest first. Never writes. */
export async function readPendingRequests(requestsDirectory: string): Promise<PendingRequest[]> {
  const names = (await listDirectory(requestsDirectory)).filter((n) => n.endsWith('.json')).sort();
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
