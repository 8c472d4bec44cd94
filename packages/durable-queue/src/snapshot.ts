import { basename, dirname, join } from 'node:path';
import { inspectLock } from './adapters/lock.js';
import { systemClock, type Clock } from './clock.js';
import type { FailedEntry, QueueEntry, RegistryEntry } from './entries.js';
import { parseFailedFile, parseRegistryFile } from './formats.js';
import { loadQueueFile, loadStateFile } from './load.js';
import { stderrLogger } from './logger.js';
import { resolvePaths, type StatePaths, type StatePathsOptions } from './options.js';
import { readPendingRequests, type PendingRequest } from './requests.js';

/** What the state files held when read. */
export interface StateSnapshot {
  readonly paths: StatePaths;
  readonly queue: QueueEntry[];
  readonly failed: FailedEntry[];
  readonly registry: RegistryEntry[];
  /** Requests waiting for the running store. */
  readonly requests: PendingRequest[];
  /** The process holding the lock, if any (a released lock is none), and whether it still runs. */
  readonly lock?: { readonly pid: number | undefined; readonly alive: boolean; readonly file: string };
  /** One line per file that was missing, corrupt (read from `.bak` instead) or had skipped entries. */
  readonly warnings: string[];
}

/**
 * Reads the state without the lock and without writing anything, for `status`, `queue` and `failed` commands
 * while the daemon runs. Every write is an atomic rename, so each file read is a complete version; a corrupt
 * file is read from its `.bak` and reported in `warnings`. Entries lacking fields get the same defaults as in
 * the store.
 */
export async function readStateSnapshot(
  options: StatePathsOptions & { clock?: Clock },
): Promise<StateSnapshot> {
  const paths = resolvePaths(options);
  const now = (options.clock ?? systemClock).now();
  const warnings: string[] = [];
  const load = { readOnly: true, now, logger: stderrLogger, warnings };
  const [queue, failed, registry] = await Promise.all([
    loadQueueFile(paths.queueFile, load),
    loadStateFile(paths.failedFile, parseFailedFile, load),
    loadStateFile(paths.registryFile, parseRegistryFile, load),
  ]);
  for (const [file, loaded] of [
    [paths.queueFile, queue],
    [paths.failedFile, failed],
    [paths.registryFile, registry],
  ] as const) {
    if (loaded.parsed.problems.length > 0) {
      warnings.push(
        `${basename(file)}: ${loaded.parsed.problems.length} problem(s): ${loaded.parsed.problems.slice(0, 3).join('; ')}`,
      );
    }
  }
  const queued = new Set(queue.parsed.entries.map((entry) => entry.filepath));
  const lockFile =
    paths.lockFiles.find((f) => dirname(f) === dirname(paths.queueFile)) ??
    join(dirname(paths.queueFile), 'tvm-upload.lock');
  const holder = await inspectLock(lockFile).catch(() => undefined);
  return {
    paths,
    queue: queue.parsed.entries,
    // As the store does at open: a file on both lists counts as queued.
    failed: failed.parsed.entries.filter((entry) => !queued.has(entry.filepath)),
    registry: registry.parsed.entries,
    requests: await readPendingRequests(paths.requestsDirectory),
    // A released lock stays in place for the next holder to reuse; nobody holds it.
    ...(holder && !holder.released
      ? { lock: { pid: holder.info?.pid, alive: holder.alive, file: lockFile } }
      : {}),
    warnings,
  };
}
