import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, open, realpath, type FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { crc32, crc32Combine } from '../checksums.js';
import { utf8PathEncoding, type PathEncoding } from '../options.js';

/**
 * Which version of which file: `dev` + `ino` name the file, `size` + `mtimeMs` its content. A change of size or mtime
 * means the file changed; a different dev/ino is another file at the same path (rotated, replaced).
 */
export interface FileIdentity {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
}

function identityIn(stats: FileIdentity): FileIdentity {
  return { dev: stats.dev, ino: stats.ino, size: stats.size, mtimeMs: stats.mtimeMs };
}

/** The identity of the file open at `handle` (fstat: the version being read, whatever the path now holds). */
export async function identityOf(handle: FileHandle): Promise<FileIdentity> {
  return identityIn(await handle.stat());
}

/** An `ELOOP` system error, as `open(O_NOFOLLOW)` raises for a symlink, so every symlink refusal classifies alike. */
export class SymlinkError extends Error {
  override readonly name = 'SymlinkError';
  readonly code = 'ELOOP';
  readonly syscall = 'open';
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super(`ELOOP: refusing to follow a symbolic link, open '${path}' (${detail})`);
  }
}

/**
 * Opens a regular file for reading without following a symlink in any component of `path`: `O_NOFOLLOW` refuses a
 * symlink as the last component (ELOOP), the parent directory must resolve to itself (no symlinked directory on the
 * way), and the opened file must be the one `lstat` finds at the path (nothing was swapped in between). A
 * hand-edited queue entry or a symlink planted in a log directory must never make the agent upload a file from
 * elsewhere. Paths reach the file system through `encoding` (see `PathEncoding`). The caller closes the handle.
 * Also resolves to the identity of the opened file (its fstat, taken anyway for the check).
 * @throws {SymlinkError} (code `ELOOP`) when a component is a symlink; the system error when opening fails.
 */
export async function openForReading(
  path: string,
  encoding: PathEncoding = utf8PathEncoding,
): Promise<{ handle: FileHandle; identity: FileIdentity }> {
  const absolute = resolve(path);
  const handle = await open(encoding.toFs(absolute), constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const parent = dirname(absolute);
    const real = encoding.fromFs(await realpath(encoding.toFs(parent), { encoding: 'buffer' }));
    if (real !== parent) throw new SymlinkError(path, `the directory ${parent} resolves to ${real}`);
    const [opened, there] = await Promise.all([handle.stat(), lstat(encoding.toFs(absolute))]);
    if (opened.dev !== there.dev || opened.ino !== there.ino) {
      throw new SymlinkError(path, 'the path changed while it was opened');
    }
    return { handle, identity: identityIn(opened) };
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw error;
  }
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

// Large enough to keep the disk streaming, small enough to stay out of the memory budget (two are in use at once).
const HASH_CHUNK_BYTES = 2 * 1024 * 1024;

/** What one read of a file yields: its SHA-256 and, when asked for, CRC32s per part and for the whole file. */
export interface FileDigests {
  /** Hex SHA-256 of the file. */
  sha256: string;
  /** The part size `partCrc32s` was computed for; undefined when none were asked for. */
  partSize?: number;
  /** CRC32 of each part, part 1 first. */
  partCrc32s?: number[];
  /** CRC32 of the whole file (combined from the parts'). */
  crc32?: number;
}

/**
 * Reads the first `size` bytes of the file once, in 2 MiB chunks, and computes every digest the upload needs from
 * that one pass: the SHA-256 and, with `partSize`, the CRC32 of each part and of the whole file. The next chunk is
 * read while the current one is hashed, so the pass costs the hashing alone (the read is off the main thread).
 */
export async function digestFile(
  handle: FileHandle,
  size: number,
  partSize: number | undefined,
  signal?: AbortSignal,
): Promise<FileDigests> {
  const hash = createHash('sha256');
  const chunkBytes = Math.min(HASH_CHUNK_BYTES, Math.max(1, size));
  const buffers = [Buffer.allocUnsafe(chunkBytes), Buffer.allocUnsafe(chunkBytes)] as const;
  const readChunk = (index: number): Promise<Buffer> => {
    const position = index * chunkBytes;
    const view = (buffers[index % 2] as Buffer).subarray(0, Math.min(chunkBytes, size - position));
    return readFully(handle, view, position).then(() => view);
  };
  const partCrc32s: number[] = [];
  let partCrc = 0;
  let whole = 0;
  const chunks = Math.ceil(size / chunkBytes);
  let next = chunks > 0 ? readChunk(0) : undefined;
  try {
    for (let index = 0; index < chunks; index++) {
      signal?.throwIfAborted();
      const view = await (next as Promise<Buffer>);
      // The other buffer is free again: fill it while this one is hashed.
      next = index + 1 < chunks ? readChunk(index + 1) : undefined;
      hash.update(view);
      if (partSize === undefined) continue;
      const position = index * chunkBytes;
      // A chunk may end a part (or several, for parts that are not whole chunks) in its middle.
      for (let offset = 0; offset < view.length;) {
        const partStart = partCrc32s.length * partSize;
        const partEnd = Math.min(partStart + partSize, size);
        const take = Math.min(view.length - offset, partEnd - (position + offset));
        partCrc = crc32(view.subarray(offset, offset + take), partCrc);
        offset += take;
        if (position + offset === partEnd) {
          whole = crc32Combine(whole, partCrc, partEnd - partStart);
          partCrc32s.push(partCrc);
          partCrc = 0;
        }
      }
    }
  } finally {
    // A read still in flight (after an abort or a failed read) must not fail unobserved, nor outlive the handle.
    await next?.catch(() => undefined);
  }
  const sha256 = hash.digest('hex');
  return partSize === undefined ? { sha256 } : { sha256, partSize, partCrc32s, crc32: whole };
}
