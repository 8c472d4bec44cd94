import { lstatSync, promises as fsp } from 'node:fs';
import type { DiskGuardFs, StatfsFunction } from '../options.js';

/**
 * The production file system operations. `lstat` is synchronous on purpose: it reads inode metadata of local log
 * directories (normally cached by the kernel), and on a loaded 2-core machine 100,000 synchronous lstat calls took
 * 0.9 s against 3.4 s through the thread pool (see the benchmark). Callers that gate many files yield to the event
 * loop every few hundred files, so it never stalls for long. Unlink stays asynchronous: it writes to the disk.
 */
export const nodeFs: DiskGuardFs = {
  lstat: (path) => lstatSync(path),
  stat: (path) => fsp.stat(path),
  realpath: (path) => fsp.realpath(path),
  unlink: (path) => fsp.unlink(path),
};

/** The production statfs: the filesystem that holds `path` (not `/`, the original daemon's mistake). */
export const nodeStatfs: StatfsFunction = async (path) => {
  const stats = await fsp.statfs(path);
  return { bsize: stats.bsize, blocks: stats.blocks, bfree: stats.bfree, bavail: stats.bavail };
};
