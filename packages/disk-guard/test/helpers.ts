import { mkdir, mkdtemp, realpath, rm, utimes, writeFile } from 'node:fs/promises';
import { readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Candidate, Logger, StatfsFunction } from '../src/index.js';

export const DAY = 86_400_000;

/** A temp directory (real path, so expectations need no symlink resolution) removed by `cleanup()`. */
export async function tempTree(): Promise<{ root: string; cleanup(): Promise<void> }> {
  const root = await realpath(await mkdtemp(join(tmpdir(), 'disk-guard-test-')));
  return { root, cleanup: () => rm(root, { recursive: true, force: true }) };
}

/** Writes `bytes` zero bytes at `path` (creating parents) with the given mtime and returns it as a candidate. */
export async function writeLog(
  path: string,
  bytes: number,
  mtimeMs: number,
  extra: Partial<Candidate> = {},
): Promise<Candidate> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, Buffer.alloc(bytes));
  await utimes(path, mtimeMs / 1000, mtimeMs / 1000);
  // Read the mtime back: the filesystem may round it.
  return { path, size: bytes, mtimeMs: statSync(path).mtimeMs, pending: false, ...extra };
}

/**
 * A statfs that pretends `root` is a disk of `capacity` bytes whose used space is the bytes of the files below it,
 * re-counted on every call, so deletions show up in the next measurement as they would on a real disk.
 */
export function fakeDisk(root: string, capacity: number): StatfsFunction & { calls: number } {
  const statfs = async () => {
    statfs.calls++;
    const used = bytesBelow(root);
    return { bsize: 1, blocks: capacity, bfree: capacity - used, bavail: capacity - used };
  };
  statfs.calls = 0;
  return statfs;
}

function bytesBelow(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += bytesBelow(path);
    else if (entry.isFile()) total += statSync(path).size;
  }
  return total;
}

/** A logger that records every line by level. */
export function recordingLogger(): Logger & { lines: { level: string; message: string }[] } {
  const lines: { level: string; message: string }[] = [];
  const at = (level: string) => (message: string) => void lines.push({ level, message });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
