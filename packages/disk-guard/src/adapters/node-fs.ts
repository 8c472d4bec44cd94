import { promises as fsp } from 'node:fs';
import type { DiskGuardFs, StatfsFunction } from '../options.js';

/** The production file system operations: node:fs/promises, `realpath` through the native realpath(3). */
export const nodeFs: DiskGuardFs = {
  lstat: (path) => fsp.lstat(path),
  stat: (path) => fsp.stat(path),
  realpath: (path) => fsp.realpath(path),
  unlink: (path) => fsp.unlink(path),
};

/** The production statfs: the filesystem that holds `path` (not `/`, the original daemon's mistake). */
export const nodeStatfs: StatfsFunction = async (path) => {
  const stats = await fsp.statfs(path);
  return { bsize: stats.bsize, blocks: stats.blocks, bfree: stats.bfree, bavail: stats.bavail };
};
