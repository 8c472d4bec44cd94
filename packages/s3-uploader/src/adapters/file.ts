import { createHash } from 'node:crypto';
import { open, stat, type FileHandle } from 'node:fs/promises';

/** What identifies one version of a file: a change of either means the file changed. */
export interface FileVersion {
  size: number;
  mtimeMs: number;
}

/** The size and mtime of the file at `path` now (follows symlinks, as opening does). */
export async function fileVersion(path: string): Promise<FileVersion> {
  const stats = await stat(path);
  return { size: stats.size, mtimeMs: stats.mtimeMs };
}

/** Opens a file for reading. The caller closes it. */
export function openForReading(path: string): Promise<FileHandle> {
  return open(path, 'r');
}

/** Thrown when the file ended before `size` bytes: it was truncated while we read it. */
export class ShortReadError extends Error {
  override readonly name = 'ShortReadError';
}

/** Fills `target` from `position`, looping over short reads. */
export async function readFully(handle: FileHandle, target: Buffer, position: number): Promise<void> {
  let filled = 0;
  while (filled < target.length) {
    const { bytesRead } = await handle.read(target, filled, target.length - filled, position + filled);
    if (bytesRead === 0) {
      throw new ShortReadError(
        `the file ended at byte ${position + filled}, expected ${position + target.length}`,
      );
    }
    filled += bytesRead;
  }
}

// Large enough to keep the disk streaming, small enough to stay out of the memory budget.
const HASH_CHUNK_BYTES = 1024 * 1024;

/** The SHA-256 (hex) of the first `size` bytes of the file, read in 1 MiB chunks. */
export async function sha256OfFile(handle: FileHandle, size: number, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(Math.min(HASH_CHUNK_BYTES, Math.max(1, size)));
  for (let position = 0; position < size; position += buffer.length) {
    signal?.throwIfAborted();
    const view = buffer.subarray(0, Math.min(buffer.length, size - position));
    await readFully(handle, view, position);
    hash.update(view);
  }
  return hash.digest('hex');
}
