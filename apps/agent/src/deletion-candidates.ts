import type { Candidate } from '@tvm/disk-guard';
import type { FailedEntry, ForgottenFile, QueueEntry, RegistryEntry } from '@tvm/durable-queue';
import { withinDirectory } from './log-directories.js';

/**
 * The state the deletion decision reads, as plain data: what an open `StateStore` lists and what durable-queue's
 * lock-free `readStateSnapshot()` returns, so the daemon and `tvm-upload cleanup` decide from the same facts.
 */
export interface DeletionState {
  readonly registry: readonly RegistryEntry[];
  readonly queue: readonly QueueEntry[];
  readonly failed: readonly FailedEntry[];
}

/** A configured log directory and its real path (undefined while it cannot be resolved). */
export interface LogDirectory {
  /** As configured; may be, or lie below, a symlink. */
  readonly path: string;
  readonly realPath: string | undefined;
}

/**
 * The one form a path is compared in: a path below a directory's configured form is named below its real path
 * (the detector names files by the real path; older entries, an operator's hand edit or a re-pointed symlink may use
 * the configured one). The most specific directory wins; a path below none is returned as it is. Pure.
 */
export function canonicalPath(path: string, directories: readonly LogDirectory[]): string {
  let best: LogDirectory | undefined;
  for (const directory of directories) {
    if (directory.realPath === undefined || directory.realPath === directory.path) continue;
    if (!withinDirectory(path, directory.path)) continue;
    if (best === undefined || directory.path.length > best.path.length) best = directory;
  }
  if (best === undefined) return path;
  return `${best.realPath}${path.slice(trimSlash(best.path).length)}`;
}

/**
 * What the deletion policies may consider, from the state alone (files the agent never saw are never candidates):
 * every path with an upload record (its latest), every queued file and every failed file, named by
 * `canonicalPath()`. A file that is queued or on the failed list is `pending` whatever the registry says: its
 * content is not (all) in S3, so only the emergency policy may delete it. Entries without a recorded size and mtime
 * (hand-edited) are left out; they still make a path pending. Pure.
 */
export function deletionCandidates(state: DeletionState, directories: readonly LogDirectory[]): Candidate[] {
  const pending = new Set<string>();
  for (const entry of [...state.queue, ...state.failed])
    pending.add(canonicalPath(entry.filepath, directories));
  const candidates = new Map<string, Candidate>();
  for (const entry of state.registry) {
    const path = canonicalPath(entry.filepath, directories);
    const previous = candidates.get(path);
    if (previous?.uploadedAt !== undefined && previous.uploadedAt >= entry.uploadedAt) continue;
    candidates.set(path, {
      path,
      size: entry.size,
      mtimeMs: entry.mtimeMs,
      uploadedAt: entry.uploadedAt,
      pending: pending.has(path),
    });
  }
  for (const entry of [...state.queue, ...state.failed]) {
    if (entry.size === undefined || entry.mtimeMs === undefined) continue;
    const path = canonicalPath(entry.filepath, directories);
    if (candidates.has(path)) continue;
    candidates.set(path, { path, size: entry.size, mtimeMs: entry.mtimeMs, pending: true });
  }
  return [...candidates.values()];
}

/**
 * The queue and failed-list entries of files that were deleted before they were uploaded (`deleted`: canonical
 * paths, as the plan named them), as the state names them, with the size and mtime they record: what
 * `forgetFiles()` / `requestForget()` take. Pure.
 */
export function unsentEntries(
  state: DeletionState,
  directories: readonly LogDirectory[],
  deleted: Iterable<string>,
): ForgottenFile[] {
  const gone = new Set(deleted);
  const files: ForgottenFile[] = [];
  for (const entry of [...state.queue, ...state.failed]) {
    if (entry.size === undefined || entry.mtimeMs === undefined) continue;
    if (!gone.has(canonicalPath(entry.filepath, directories))) continue;
    files.push({ filepath: entry.filepath, size: entry.size, mtimeMs: entry.mtimeMs });
  }
  return files;
}

function trimSlash(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}
