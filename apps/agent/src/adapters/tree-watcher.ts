import { watch, type FSWatcher } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeFileName, encodeFileName } from '../file-names.js';
import { readDirectory, type DirectoryEntry, type DirectoryFilter } from './files.js';

/** What {@link watchTree} reports. */
export interface TreeEvents {
  /** Something happened to this file (created, written, renamed into place). */
  file(path: string): void;
  /** This path is gone (deleted or renamed away). */
  gone(path: string): void;
  error(message: string): void;
}

/** A running watch of one log directory. */
export interface TreeWatcher {
  /** Directories watched (one inotify watch each). */
  readonly directories: number;
  close(): void;
}

/**
 * Watches a log directory with one inotify watch per directory, never per file (chokidar's way costs a watch and a
 * few KB per file, and vehicles keep tens of thousands of log files against an 8192-watch default). A directory
 * watch reports its entries being created, written, moved in and removed, which is all the detector needs; new
 * subdirectories are watched as they appear (when `recursive`), and their files reported, since they may have been
 * written before the watch began. Hidden directories and symlinks are not entered. Lost events are the reconcile
 * scan's business.
 */
export async function watchTree(filter: DirectoryFilter, events: TreeEvents): Promise<TreeWatcher> {
  const watchers = new Map<string, FSWatcher>();
  const recursive = filter.directory.recursive;
  let closed = false;

  const forget = (dir: string): void => {
    for (const [path, watcher] of watchers) {
      if (path === dir || path.startsWith(`${dir}/`)) {
        watcher.close();
        watchers.delete(path);
      }
    }
  };

  const onEvent = async (dir: string, name: string): Promise<void> => {
    const path = join(dir, name);
    if (closed || filter.hidden(path)) return;
    let stats;
    try {
      stats = await lstat(encodeFileName(path));
    } catch {
      if (watchers.has(path)) forget(path);
      events.gone(path);
      return;
    }
    if (stats.isFile()) events.file(path);
    else if (stats.isDirectory() && recursive && !watchers.has(path)) await addTree(path, true);
  };

  const addDirectory = (dir: string): void => {
    if (closed || watchers.has(dir)) return;
    try {
      // Names as bytes: a GBK or Latin-1 name as a string would arrive with U+FFFD and name no file.
      const watcher = watch(
        encodeFileName(dir),
        { persistent: false, encoding: 'buffer' },
        (_type, bytes) => {
          if (bytes === null) return;
          const name = decodeFileName(bytes);
          // Nobody waits for an event handler: its failure is reported as a watch error, never left unhandled.
          onEvent(dir, name).catch((error: unknown) =>
            events.error(`handling ${join(dir, name)}: ${(error as Error).message}`),
          );
        },
      );
      watcher.on('error', (error) => {
        forget(dir);
        if (dir === filter.root) events.error(`watching ${dir} stopped: ${error.message}`);
      });
      watchers.set(dir, watcher);
    } catch (error) {
      events.error(`cannot watch ${dir}: ${(error as Error).message}`);
    }
  };

  /** Watches `dir` and, when recursive, its subdirectories; reports the files found when `report`. */
  const addTree = async (dir: string, report: boolean): Promise<void> => {
    addDirectory(dir);
    let entries: DirectoryEntry[];
    try {
      entries = await readDirectory(dir);
    } catch {
      return;
    }
    for (const entry of entries) {
      if (closed || entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      // Dirent types come from readdir without following links: a symlink is neither a file nor a directory here.
      if (entry.isDirectory && recursive) await addTree(path, report);
      else if (entry.isFile && report) events.file(path);
    }
  };

  await addTree(filter.root, false);
  return {
    get directories() {
      return watchers.size;
    },
    close() {
      closed = true;
      for (const watcher of watchers.values()) watcher.close();
      watchers.clear();
    },
  };
}
