import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import {
  lstat,
  mkdir,
  open,
  readdir,
  readFile,
  realpath,
  rename,
  rm,
  statfs,
  utimes,
  type FileHandle,
} from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { identityOf, sameVersion, writeFileAtomic, type FileIdentity } from '@tvm/durable-queue';
import { classify, type Classification } from '@tvm/error-classification';
import { UploadError } from '@tvm/s3-uploader';
import { encodeFileName } from '../file-names.js';
import { COMPRESSED_KEY_SUFFIX } from '../object-key.js';
import { createEncoder } from './codecs.js';
import type { CompressionAlgorithm } from './decision.js';

/** The spool's directory inside the state directory. */
export const SPOOL_DIRECTORY = 'spool';
const MARKER_SUFFIX = '.json';
const PARTIAL_SUFFIX = '.partial';
const READ_BYTES = 1024 * 1024;

/**
 * The completion marker of one spool file (`<id>.json` beside `<id>.gz` / `<id>.zst`): the spool is complete and
 * is exactly `compressed`, which decompresses to the original version `original` (its SHA-256 checked by a second,
 * independent decompression while the spool was written, and the original unchanged from first to last byte).
 */
export interface SpoolMarker {
  version: 1;
  /** The original's path (the agent's string form), as the upload request named it. */
  filepath: string;
  algorithm: CompressionAlgorithm;
  original: FileIdentity & { sha256: string };
  compressed: { size: number; sha256: string };
}

/** A spool file ready to upload. */
export interface SpoolFile {
  id: string;
  path: string;
  marker: SpoolMarker;
  /** False when it was written now, true when an earlier attempt's (before a restart) was taken over. */
  reused: boolean;
}

/** Why no spool file could be written: the caller sends the original uncompressed. */
export interface SpoolUnavailable {
  unavailable: string;
}

/** What {@link Spool.sweep} removed and kept. */
export interface SweepResult {
  removed: number;
  kept: number;
  keptBytes: number;
}

/** Options of {@link Spool.open}. */
export interface SpoolOptions {
  /** Free space the spool must leave on its filesystem (`disk.reserved_gb`). @default 0 */
  reserveBytes?: number;
  /** Called after each chunk of the original is read (tests change the file mid-compression through it). */
  onRead?: (bytesRead: number) => void | Promise<void>;
  /**
   * Spool files smaller than this go up in one request (the uploader's multipart threshold): no part of one can be
   * resumed, so it gets no marker, and a small compressed file costs no fsync. Without a marker it is never taken
   * over: a later attempt compresses the original again, and the start-up sweep removes one a crash left.
   * @default 0 (every spool file is marked)
   */
  resumableFromBytes?: number;
}

/** An error of the original file (not of the spool): it fails the attempt like the uploader's own would. */
class OriginalError extends Error {
  constructor(readonly uploadError: UploadError) {
    super(uploadError.message);
  }
}

/**
 * Compressed copies of files waiting to be uploaded, in `<state>/spool/`. A spool file is named from the original's
 * identity (path, inode, size, mtime) and the algorithm, written under a `.partial` name, renamed when complete,
 * given the original's mtime (so a spool written again after a crash is byte for byte and stat for stat the same
 * file, and a saved multipart upload of it still matches), and then marked complete by its marker (only one large
 * enough to be sent in parts: see {@link SpoolOptions.resumableFromBytes}). Upload it as any file; remove it once
 * uploaded.
 */
export class Spool {
  private constructor(
    /** The resolved directory (the uploader refuses a path through a symlinked directory). */
    readonly directory: string,
    private readonly options: SpoolOptions,
  ) {}

  /** Creates the directory if needed. */
  static async open(directory: string, options: SpoolOptions = {}): Promise<Spool> {
    await mkdir(directory, { recursive: true });
    return new Spool(await realpath(directory), options);
  }

  /** The id of a spool file: the original's path and identity and the algorithm, hashed. */
  static idOf(filepath: string, identity: FileIdentity, algorithm: CompressionAlgorithm): string {
    const { dev, ino, size, mtimeMs } = identity;
    return createHash('sha256')
      .update(JSON.stringify([filepath, dev, ino, size, mtimeMs, algorithm]))
      .digest('hex')
      .slice(0, 32);
  }

  private spoolPath(id: string, algorithm: CompressionAlgorithm): string {
    return join(this.directory, `${id}${COMPRESSED_KEY_SUFFIX[algorithm]}`);
  }

  private markerPath(id: string): string {
    return join(this.directory, `${id}${MARKER_SUFFIX}`);
  }

  /**
   * The spool file of the original open as `handle` (its identity `before`): the complete one an earlier attempt left
   * (checked against its marker, SHA-256 included), or a new one. Rejects with an `UploadError` for a problem of the
   * original (unreadable, changed while it was read) and when `signal` fires; resolves to {@link SpoolUnavailable}
   * when the spool itself cannot be written (a full disk, an I/O error), so the caller can send the file uncompressed.
   * A spool is started only when its filesystem keeps `reserveBytes` free after `expectedSize` (default: the
   * original's size) more bytes.
   */
  async prepare(
    filepath: string,
    handle: FileHandle,
    before: FileIdentity,
    algorithm: CompressionAlgorithm,
    options: { signal?: AbortSignal; expectedSize?: number } = {},
  ): Promise<SpoolFile | SpoolUnavailable> {
    const { signal } = options;
    const id = Spool.idOf(filepath, before, algorithm);
    const existing = await this.complete(id, filepath, before, algorithm);
    if (existing) return { id, path: this.spoolPath(id, algorithm), marker: existing, reused: true };
    await this.remove(id, algorithm);
    try {
      await this.ensureRoom(options.expectedSize ?? before.size);
      const marker = await this.write(id, filepath, handle, before, algorithm, signal);
      return { id, path: this.spoolPath(id, algorithm), marker, reused: false };
    } catch (error) {
      await rm(this.spoolPath(id, algorithm) + PARTIAL_SUFFIX, { force: true }).catch(() => undefined);
      if (error instanceof OriginalError) throw error.uploadError;
      if (signal?.aborted) throw error;
      await this.remove(id, algorithm);
      return { unavailable: classify(error).message };
    }
  }

  /** The marker of a complete spool file of this version whose bytes are still the marker's, if there is one. */
  private async complete(
    id: string,
    filepath: string,
    before: FileIdentity,
    algorithm: CompressionAlgorithm,
  ): Promise<SpoolMarker | undefined> {
    const marker = await readMarker(this.markerPath(id));
    if (
      !marker ||
      marker.filepath !== filepath ||
      marker.algorithm !== algorithm ||
      !sameVersion(marker.original, before)
    ) {
      return undefined;
    }
    // A spool renamed into place but not yet on disk when the power went is found here: hashed, not trusted.
    const path = this.spoolPath(id, algorithm);
    try {
      const hash = createHash('sha256');
      let size = 0;
      const spool = await open(path, 'r');
      try {
        for await (const chunk of spool.createReadStream({ autoClose: false })) {
          hash.update(chunk as Buffer);
          size += (chunk as Buffer).length;
        }
      } finally {
        await spool.close();
      }
      return size === marker.compressed.size && hash.digest('hex') === marker.compressed.sha256
        ? marker
        : undefined;
    } catch {
      return undefined;
    }
  }

  /** A spool may never take the space `disk.reserved_gb` keeps free. */
  private async ensureRoom(size: number): Promise<void> {
    const fs = await statfs(this.directory);
    const free = fs.bavail * fs.bsize;
    const reserve = this.options.reserveBytes ?? 0;
    if (free - size < reserve) {
      throw Object.assign(
        new Error(
          `not enough free space in ${this.directory} (${free} bytes free, ${size} needed, ${reserve} reserved)`,
        ),
        { code: 'ENOSPC' },
      );
    }
  }

  private async write(
    id: string,
    filepath: string,
    handle: FileHandle,
    before: FileIdentity,
    algorithm: CompressionAlgorithm,
    signal: AbortSignal | undefined,
  ): Promise<SpoolMarker> {
    const path = this.spoolPath(id, algorithm);
    const partial = path + PARTIAL_SUFFIX;
    const encoder = await createEncoder(algorithm);
    const original = createHash('sha256');
    const compressed = createHash('sha256');
    let compressedSize = 0;
    const onRead = this.options.onRead;
    const failed = (error: unknown): OriginalError =>
      new OriginalError(
        error instanceof UploadError
          ? error
          : new UploadError('file-unreadable', `Reading ${filepath} failed: ${classify(error).message}`, {
              cause: error,
            }),
      );
    async function* read(): AsyncGenerator<Buffer> {
      for (let position = 0; position < before.size;) {
        const data = Buffer.allocUnsafe(Math.min(READ_BYTES, before.size - position));
        let filled = 0;
        while (filled < data.length) {
          let bytesRead: number;
          try {
            ({ bytesRead } = await handle.read(data, filled, data.length - filled, position + filled));
          } catch (error) {
            throw failed(error);
          }
          if (bytesRead === 0)
            throw failed(changed(filepath, `it ended at ${position + filled} of ${before.size} bytes`));
          filled += bytesRead;
        }
        original.update(data);
        position += data.length;
        await onRead?.(position);
        yield data;
      }
    }
    await pipeline(
      read,
      encoder.stage,
      async function* (source: AsyncIterable<Buffer | string>) {
        for await (const piece of source) {
          const chunk = typeof piece === 'string' ? Buffer.from(piece) : piece;
          compressed.update(chunk);
          compressedSize += chunk.length;
          await encoder.check(chunk);
          yield chunk;
        }
      },
      createWriteStream(partial, { flags: 'w' }),
      { signal },
    );
    let after: FileIdentity;
    try {
      after = identityOf(await handle.stat());
    } catch (error) {
      throw failed(error);
    }
    if (!sameVersion(before, after)) {
      throw failed(
        changed(
          filepath,
          `size ${before.size} -> ${after.size}, mtime ${before.mtimeMs} -> ${after.mtimeMs}`,
        ),
      );
    }
    const sha256 = original.digest('hex');
    const decoded = await encoder.decodedSha256();
    if (decoded !== sha256) {
      // Never seen: a compressor fault or memory corruption. Temporary: the next attempt compresses again.
      throw failed(
        changed(filepath, `its ${algorithm} copy decompresses to SHA-256 ${decoded}, not ${sha256}`),
      );
    }
    // The original's mtime: a spool written again is the same file to the uploader's saved multipart state.
    const mtime = new Date(before.mtimeMs);
    await utimes(partial, mtime, mtime);
    await rename(partial, path);
    const marker: SpoolMarker = {
      version: 1,
      filepath,
      algorithm,
      original: { ...identityOf(before), sha256 },
      compressed: { size: compressedSize, sha256: compressed.digest('hex') },
    };
    if (compressedSize >= (this.options.resumableFromBytes ?? 0)) {
      await writeFileAtomic(this.markerPath(id), `${JSON.stringify(marker)}\n`);
    }
    return marker;
  }

  /** Removes a spool file and its marker (the upload is done, or the spool is stale). Never rejects. */
  async remove(id: string, algorithm?: CompressionAlgorithm): Promise<void> {
    const algorithms = algorithm
      ? [algorithm]
      : (Object.keys(COMPRESSED_KEY_SUFFIX) as CompressionAlgorithm[]);
    // The marker first: a spool without a marker is incomplete and never taken over.
    await rm(this.markerPath(id), { force: true }).catch(() => undefined);
    for (const a of algorithms) await rm(this.spoolPath(id, a), { force: true }).catch(() => undefined);
  }

  /**
   * At start-up: removes every partial spool file, every spool without a marker, and every complete one whose
   * original is no longer queued (`queued(filepath)` false) or no longer the version it was made from. Resolves with
   * what it removed and kept.
   */
  async sweep(queued: (filepath: string) => boolean): Promise<SweepResult> {
    const result: SweepResult = { removed: 0, kept: 0, keptBytes: 0 };
    const names = await readdir(this.directory);
    const keep = new Set<string>();
    for (const name of names) {
      if (!name.endsWith(MARKER_SUFFIX)) continue;
      const id = name.slice(0, -MARKER_SUFFIX.length);
      const marker = await readMarker(join(this.directory, name));
      const current = marker && (await lstat(encodeFileName(marker.filepath)).catch(() => undefined));
      if (marker && current && queued(marker.filepath) && sameVersion(marker.original, current)) {
        keep.add(name);
        keep.add(`${id}${COMPRESSED_KEY_SUFFIX[marker.algorithm]}`);
      }
    }
    for (const name of names) {
      const path = join(this.directory, name);
      if (keep.has(name)) {
        if (!name.endsWith(MARKER_SUFFIX)) {
          result.kept++;
          result.keptBytes += (await lstat(path).catch(() => ({ size: 0 }))).size;
        }
        continue;
      }
      await rm(path, { force: true, recursive: true }).catch(() => undefined);
      if (!name.endsWith(MARKER_SUFFIX)) result.removed++;
    }
    return result;
  }
}

function changed(path: string, detail: string): UploadError {
  const message = `File changed while compressing: ${path} (${detail})`;
  const classification: Classification = { kind: 'temporary', category: 'unknown', scope: 'file', message };
  return new UploadError('file-changed', message, { cause: new Error(message), classification });
}

async function readMarker(path: string): Promise<SpoolMarker | undefined> {
  try {
    const marker = JSON.parse(await readFile(path, 'utf8')) as SpoolMarker;
    return marker.version === 1 && typeof marker.filepath === 'string' ? marker : undefined;
  } catch {
    return undefined;
  }
}
