import { lstat, readdir, realpath } from 'node:fs/promises';
import { basename, isAbsolute, join, relative, sep } from 'node:path';
import { compileGlob } from '@tvm/disk-guard';
import { decodeFileName, encodeFileName } from '../file-names.js';

/** A configured log directory, as the detector needs it. */
export interface WatchedDirectory {
  /** The configured path (may be a symlink). */
  path: string;
  source: string;
  /** A glob on the file's name (fnmatch rules, shared with the deletion gate). */
  pattern: string;
  recursive: boolean;
}

/** A regular file found in a log directory, with what identifies it. */
export interface FoundFile {
  path: string;
  size: number;
  mtimeMs: number;
  dev: number;
  ino: number;
}

/**
 * Decides which paths under a directory are log files to upload:
 * - the name matches `pattern`; with `recursive: false` only files directly in the directory;
 * - hidden files and anything under a hidden directory are skipped (editors' swap files, `.nfs*` placeholders);
 * - symlinks are never followed: a symlinked file or directory inside a log directory is skipped, so nothing
 *   outside the configured trees is uploaded (or later deleted), and ROS's `latest` link does not upload a run
 *   twice. The configured directory itself may be a symlink: it is resolved once, and files are named by the
 *   resolved path.
 */
export class DirectoryFilter {
  readonly #matches: (name: string) => boolean;

  constructor(
    readonly directory: WatchedDirectory,
    /** The resolved (real) path of the directory. */
    readonly root: string,
  ) {
    this.#matches = compileGlob(directory.pattern);
  }

  /** True when `path` (absolute) names a file this directory uploads, judged by the name alone. */
  accepts(path: string): boolean {
    const rel = relative(this.root, path);
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return false;
    const segments = rel.split(sep);
    if (!this.directory.recursive && segments.length > 1) return false;
    if (segments.some((segment) => segment.startsWith('.'))) return false;
    return this.#matches(basename(path));
  }

  /** Whether `path` or a directory on the way to it is hidden (watchers skip those subtrees). */
  hidden(path: string): boolean {
    const rel = relative(this.root, path);
    if (rel === '' || rel.startsWith('..')) return false;
    return rel.split(sep).some((segment) => segment.startsWith('.'));
  }
}

/** The real path of a directory, or undefined when it does not exist (yet). */
export async function resolveDirectory(path: string): Promise<string | undefined> {
  try {
    return decodeFileName(await realpath(encodeFileName(path), { encoding: 'buffer' }));
  } catch {
    return undefined;
  }
}

/** `lstat` of a regular file, or undefined when it is gone, not a regular file, or a symlink. */
export async function statFile(path: string): Promise<FoundFile | undefined> {
  try {
    const stat = await lstat(encodeFileName(path));
    if (!stat.isFile()) return undefined;
    return { path, size: stat.size, mtimeMs: stat.mtimeMs, dev: stat.dev, ino: stat.ino };
  } catch {
    return undefined;
  }
}

/** One entry of a directory, named in the agent's string form (see `file-names.ts`). */
export interface DirectoryEntry {
  name: string;
  /** From readdir, without following links: a symlink is neither a file nor a directory here. */
  isFile: boolean;
  isDirectory: boolean;
}

/**
 * The entries of `dir`, read as bytes and decoded by `decodeFileName`: a name that is not valid UTF-8 (GBK,
 * Latin-1) keeps its bytes, where a string readdir would turn them into U+FFFD and the file would never be found.
 */
export async function readDirectory(dir: string): Promise<DirectoryEntry[]> {
  const entries = await readdir(encodeFileName(dir), { withFileTypes: true, encoding: 'buffer' });
  return entries.map((entry) => ({
    name: decodeFileName(entry.name),
    isFile: entry.isFile(),
    isDirectory: entry.isDirectory(),
  }));
}

/**
 * Lists the files of one directory that `filter` accepts and that were modified at or after `minMtimeMs`, without
 * following symlinks or entering hidden directories. Paths `skip` names (queued already) are not even stat'ed, so a
 * scan of ten thousand queued files costs one readdir per directory. Unreadable directories are skipped, not fatal.
 */
export async function scanDirectory(
  filter: DirectoryFilter,
  minMtimeMs: number,
  skip: (path: string) => boolean = () => false,
): Promise<FoundFile[]> {
  const found: FoundFile[] = [];
  for await (const batch of scanDirectoryInBatches(filter, minMtimeMs, skip)) found.push(...batch);
  return found;
}

/** How many `lstat` calls a scan has in flight: enough to overlap them, few enough to keep memory flat. */
const STAT_BATCH = 64;

/**
 * {@link scanDirectory}, handing the files over as they are stat'ed, in batches of at most 64: a scan of 100,000
 * files never holds them all (the directories are read first, their paths kept; the stats follow).
 */
export async function* scanDirectoryInBatches(
  filter: DirectoryFilter,
  minMtimeMs: number,
  skip: (path: string) => boolean = () => false,
): AsyncGenerator<FoundFile[], void, undefined> {
  const paths: string[] = [];
  const directories = [filter.root];
  for (let dir = directories.pop(); dir !== undefined; dir = directories.pop()) {
    let entries: DirectoryEntry[];
    try {
      entries = await readDirectory(dir);
    } catch {
      continue; // gone, or not ours to read: the next scan looks again
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory && filter.directory.recursive) directories.push(path);
      else if (entry.isFile && filter.accepts(path) && !skip(path)) paths.push(path);
    }
  }
  for (let i = 0; i < paths.length; i += STAT_BATCH) {
    const batch = await Promise.all(paths.slice(i, i + STAT_BATCH).map((path) => statFile(path)));
    const found: FoundFile[] = [];
    for (const file of batch) if (file && file.mtimeMs >= minMtimeMs) found.push(file);
    if (found.length > 0) yield found;
  }
}
