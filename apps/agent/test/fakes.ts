import { createHash } from 'node:crypto';
import type { FailedEntry, QueueEntry, RegistryEntry } from '@tvm/durable-queue';
import type { MultipartState, UploadRequest } from '@tvm/s3-uploader';
import type {
  FileFacts,
  FileProbe,
  ObjectStore,
  PipelineOptions,
  PipelineStore,
  Placement,
  StoredObject,
} from '../src/pipeline/index.js';

/** The smallest valid config (YAML): one log directory, a bucket and its region; every other key defaulted. */
export const MINIMAL_CONFIG = `
vehicle_id: vehicle-CN-001
log_directories:
  - path: /logs/a
    source: a
s3:
  bucket: t01logs
  region: cn-north-1
`;

/**
 * An in-memory state store with the pipeline's port: the queue, the failed list and the registry as maps. It
 * passes the same contract tests as `@tvm/durable-queue`'s store (ports.contract.test.ts).
 */
export class MemoryStore implements PipelineStore {
  readonly entries = new Map<string, QueueEntry>();
  readonly failedEntries = new Map<string, FailedEntry>();
  readonly registered: RegistryEntry[] = [];
  readonly queue: PipelineStore['queue'];
  readonly failed: PipelineStore['failed'];
  readonly registry: PipelineStore['registry'];

  constructor(now: () => number = Date.now) {
    const { entries, failedEntries, registered } = this;
    this.queue = {
      get size() {
        return entries.size;
      },
      get: (path) => entries.get(path),
      list: () => [...entries.values()],
      due: (at = now(), options = {}) => {
        const sign = options.order === 'newest_first' ? -1 : 1;
        return [...entries.values()]
          .filter((e) => e.nextAttemptAt <= at)
          .sort((a, b) => sign * ((a.mtimeMs ?? a.detectedAt) - (b.mtimeMs ?? b.detectedAt)));
      },
      update: (path, patch) => {
        const current = entries.get(path);
        if (!current) return Promise.resolve(undefined);
        const next: Record<string, unknown> = { ...current };
        for (const [key, value] of Object.entries(patch)) {
          if (value !== undefined) next[key] = value;
          else if (!['detectedAt', 'attempts', 'nextAttemptAt'].includes(key)) delete next[key];
        }
        entries.set(path, next as QueueEntry);
        return Promise.resolve(next as QueueEntry);
      },
      remove: (path) => Promise.resolve(entries.delete(path)),
    };
    this.failed = {
      add: (input) => {
        const queued = entries.get(input.filepath);
        entries.delete(input.filepath);
        const entry = {
          ...queued,
          ...input,
          attempts: input.attempts ?? queued?.attempts ?? 0,
          failedAt: input.failedAt ?? now(),
        } as FailedEntry;
        failedEntries.set(input.filepath, entry);
        return Promise.resolve(entry);
      },
    };
    this.registry = {
      mark: (input) => {
        const entry = { ...input, uploadedAt: input.uploadedAt ?? now() } as RegistryEntry;
        registered.push(entry);
        return Promise.resolve(entry);
      },
    };
    this.now = now;
  }

  private readonly now: () => number;

  /** Queues a file as the detector would. */
  add(input: Partial<QueueEntry> & { filepath: string }): void {
    this.entries.set(input.filepath, { detectedAt: this.now(), attempts: 0, nextAttemptAt: 0, ...input });
  }
}

/** A file of the in-memory volume. */
export interface MemoryFile {
  bytes: Buffer;
  mtimeMs: number;
  ino: number;
  kind?: 'file' | 'directory' | 'symlink';
}

/** Files in memory, for the file probe and the in-memory bucket. */
export class MemoryVolume implements FileProbe {
  readonly files = new Map<string, MemoryFile>();
  #ino = 1;

  write(path: string, body: string | Buffer, mtimeMs = Date.now() - 3_600_000): void {
    this.files.set(path, { bytes: Buffer.from(body), mtimeMs, ino: this.#ino++ });
  }

  symlink(path: string): void {
    this.files.set(path, { bytes: Buffer.alloc(0), mtimeMs: Date.now(), ino: this.#ino++, kind: 'symlink' });
  }

  read(path: string): MemoryFile {
    const file = this.files.get(path);
    if (!file) {
      throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), {
        code: 'ENOENT',
        errno: -2,
        syscall: 'open',
        path,
      });
    }
    return file;
  }

  stat(path: string): Promise<FileFacts> {
    try {
      const file = this.read(path);
      return Promise.resolve({
        isFile: (file.kind ?? 'file') === 'file',
        size: file.bytes.length,
        mtimeMs: file.mtimeMs,
      });
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }
}

/**
 * An in-memory bucket with the pipeline's object-store port. `fault` (when set) decides each request's failure:
 * return an error to throw it, undefined to let the request through.
 */
export class MemoryBucket implements ObjectStore {
  readonly objects = new Map<string, Buffer>();
  fault: ((what: 'upload' | 'check', request?: UploadRequest) => Error | undefined) | undefined;
  uploads = 0;

  constructor(private readonly volume: MemoryVolume) {}

  async upload(request: UploadRequest): Promise<StoredObject> {
    await Promise.resolve();
    this.uploads++;
    const error = this.fault?.('upload', request);
    if (error) throw error;
    if (request.signal?.aborted) throw Object.assign(new Error('aborted'), { name: 'AbortError' });
    const file = this.volume.read(request.filePath);
    if (file.kind === 'symlink') {
      throw Object.assign(
        new Error(`ELOOP: too many symbolic links encountered, open '${request.filePath}'`),
        {
          code: 'ELOOP',
          errno: -40,
          path: request.filePath,
        },
      );
    }
    const present = this.objects.get(request.key);
    this.objects.set(request.key, Buffer.from(file.bytes));
    request.onProgress?.({ bytesSent: file.bytes.length, totalBytes: file.bytes.length } as never);
    return {
      key: request.key,
      bytes: file.bytes.length,
      sha256: createHash('sha256').update(file.bytes).digest('hex'),
      version: { dev: 1, ino: file.ino, size: file.bytes.length, mtimeMs: file.mtimeMs },
      ...(present?.equals(file.bytes) ? { skipped: 'already-present' as const } : {}),
    };
  }

  async checkDestination(): Promise<void> {
    await Promise.resolve();
    const error = this.fault?.('check');
    if (error) throw error;
  }
}

/** The uploader's `UploadPausedError`, as the in-memory link throws it (the pipeline matches it by name). */
export class FakePausedError extends Error {
  override readonly name = 'UploadPausedError';
  constructor(readonly reason: string) {
    super(`paused: ${reason}`);
  }
}

/** Options of {@link MemoryLink}. */
export interface MemoryLinkOptions {
  /** Time advances only through it: every request body takes `bytes / bytesPerMs` of it. */
  clock: { sleep(ms: number, signal?: AbortSignal): Promise<void>; now(): number };
  bytesPerMs: number;
  partSize: number;
  /** Files of at least this size go as multipart uploads. @default partSize */
  multipartThreshold?: number;
}

/**
 * An in-memory bucket behind a link of fixed speed on a fake clock, with multipart uploads as the uploader makes
 * them: one part at a time, the state reported after creating the upload and after each part, `shouldPause`
 * asked before each part, and a resume from `resumeState` sending only the missing parts. It counts what S3 would
 * see: `creates` (CreateMultipartUpload) and `partsSent` per key.
 */
export class MemoryLink implements ObjectStore {
  readonly objects = new Map<string, Buffer>();
  readonly creates = new Map<string, number>();
  readonly partsSent = new Map<string, number[]>();
  /** When each key landed (fake epoch ms). */
  readonly landedAt = new Map<string, number>();
  #ids = 0;

  constructor(
    private readonly volume: MemoryVolume,
    private readonly options: MemoryLinkOptions,
  ) {}

  async upload(request: UploadRequest): Promise<StoredObject> {
    const { clock, bytesPerMs, partSize } = this.options;
    const file = this.volume.read(request.filePath);
    const size = file.bytes.length;
    const version = { dev: 1, ino: file.ino, size, mtimeMs: file.mtimeMs };
    const sha256 = createHash('sha256').update(file.bytes).digest('hex');
    const send = (bytes: number) => clock.sleep(Math.ceil(bytes / bytesPerMs), request.signal);
    if (size < (this.options.multipartThreshold ?? partSize)) {
      await send(size);
      this.#land(request.key, file.bytes);
      return { key: request.key, bytes: size, sha256, version };
    }
    let state: MultipartState;
    if (request.resumeState) {
      state = request.resumeState;
    } else {
      const reason = request.shouldPause?.();
      if (reason !== undefined) throw new FakePausedError(reason);
      this.creates.set(request.key, (this.creates.get(request.key) ?? 0) + 1);
      state = {
        version: 1,
        bucket: 'b',
        key: request.key,
        size,
        mtimeMs: file.mtimeMs,
        sha256: 'x',
        checksumAlgorithm: 'CRC32',
        uploadId: `upload-${++this.#ids}`,
        partSize,
        startedAt: clock.now(),
        parts: [],
      };
      await request.onStateChange?.(structuredClone(state));
    }
    const count = Math.ceil(size / partSize);
    const resumedParts = state.parts.length;
    for (let n = 1; n <= count; n++) {
      if (state.parts.some((part) => part.partNumber === n)) continue;
      const reason = request.shouldPause?.();
      if (reason !== undefined) throw new FakePausedError(reason);
      await send(Math.min(partSize, size - (n - 1) * partSize));
      this.partsSent.set(request.key, [...(this.partsSent.get(request.key) ?? []), n]);
      state = { ...state, parts: [...state.parts, { partNumber: n, etag: `"${n}"`, checksum: 'c' }] };
      await request.onStateChange?.(structuredClone(state));
      request.onProgress?.({ bytesSent: Math.min(size, n * partSize), totalBytes: size });
    }
    await request.onStateChange?.(undefined);
    this.#land(request.key, file.bytes);
    return { key: request.key, bytes: size, sha256, version, parts: count, resumedParts };
  }

  #land(key: string, bytes: Buffer): void {
    this.objects.set(key, Buffer.from(bytes));
    this.landedAt.set(key, this.options.clock.now());
  }

  checkDestination(): Promise<void> {
    return Promise.resolve();
  }
}

/** What every in-memory pipeline test wires the same way; each test spreads it and adds or overrides its own. */
export function pipelineDefaults(directories: {
  locate(path: string, source: string | undefined): Placement;
}): Pick<PipelineOptions, 'bucket' | 'metrics' | 'concurrency' | 'order' | 'retry' | 'keyFor' | 'locate'> {
  return {
    bucket: 'b',
    metrics: {
      fileUploaded: () => undefined,
      uploadFailed: () => undefined,
      retryScheduled: () => undefined,
      permanentFailure: () => undefined,
      queueDepth: () => undefined,
    },
    concurrency: 4,
    order: 'oldest_first',
    retry: { maxRetries: 10, initialDelayMs: 1000, maxDelayMs: 512_000 },
    keyFor: (home, path) => `v1/${home.source}${path.slice(home.root.length)}`,
    locate: (path, source) => directories.locate(path, source),
  };
}
