import { basename, dirname, join } from 'node:path';
import { statIfExists } from './adapters/files.js';
import { inspectLock } from './adapters/lock.js';
import { systemClock, type Clock } from './clock.js';
import type { FailedEntry, QueueEntry, RegistryEntry } from './entries.js';
import type { FileIdentity } from './identity.js';
import { parseFailedFile, parseRegistryFile, type ParsedFile } from './formats.js';
import { journalFileOf, readJournal, replayJournal } from './journal.js';
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

const sameFile = (a: FileIdentity, b: FileIdentity) =>
  a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;

/** How often the reader tries again when the daemon compacted the registry between its two reads. */
const REGISTRY_READ_ATTEMPTS = 5;

/**
 * Reads the registry as the store holds it: the snapshot, then its journal replayed over it. A journal that
 * continues a newer snapshot than the one read means a compaction happened between the two reads: read again.
 */
async function loadRegistry(
  file: string,
  load: Parameters<typeof loadStateFile>[2],
  warnings: string[],
): Promise<{ parsed: ParsedFile<RegistryEntry> }> {
  const journalFile = journalFileOf(file);
  for (let attempt = 1; ; attempt++) {
    const scratch: string[] = [];
    const before = await statIfExists(file);
    const snapshot = await loadStateFile(file, parseRegistryFile, { ...load, warnings: scratch });
    const journal = await readJournal(journalFile, load.now);
    // A compaction renames a new snapshot into place and then empties the journal: one that ran between the reads
    // shows as another file under the name, or as a journal continuing a later snapshot than the one read.
    const after = await statIfExists(file);
    const stale =
      (before !== undefined && after !== undefined && !sameFile(before, after)) ||
      (journal?.generation !== undefined && journal.generation > (snapshot.parsed.generation ?? 0));
    if (stale && attempt < REGISTRY_READ_ATTEMPTS) continue;
    warnings.push(...scratch);
    if (!journal) return snapshot;
    if (journal.problems.length > 0)
      warnings.push(
        `${basename(journalFile)}: ${journal.problems.length} line(s) skipped: ${journal.problems.slice(0, 3).join('; ')}`,
      );
    return { parsed: { ...snapshot.parsed, entries: replayJournal(snapshot.parsed.entries, journal.ops) } };
  }
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
    loadRegistry(paths.registryFile, load, warnings),
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
