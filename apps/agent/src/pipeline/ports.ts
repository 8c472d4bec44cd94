import type { FailedList, ProcessedRegistry, QueueEntry, UploadQueue } from '@tvm/durable-queue';
import type { UploadRequest, UploadResult } from '@tvm/s3-uploader';
import type { Lane } from '../lanes.js';
import type { SentVersion } from './transition.js';

/**
 * The state the pipeline reads and changes: the queue, the failed list and the registry. The real adapter is
 * `@tvm/durable-queue`'s `StateStore`; tests use an in-memory store that passes the same contract tests.
 */
export interface PipelineStore {
  readonly queue: Pick<UploadQueue, 'size' | 'get' | 'list' | 'due' | 'update' | 'remove'>;
  readonly failed: Pick<FailedList, 'add'>;
  readonly registry: Pick<ProcessedRegistry, 'mark'>;
}

/** What an upload achieved, with the identity of the version that was verified. */
export type StoredObject = Pick<
  UploadResult,
  'key' | 'bytes' | 'sha256' | 'skipped' | 'parts' | 'resumedParts'
> & {
  version: SentVersion;
  /** Set when the object is a compressed copy of the file: the original's size and SHA-256. */
  original?: { size: number; sha256: string };
};

/** An upload as the pipeline asks for it: the uploader's request, and the file's source and mtime for its metadata. */
export type ObjectRequest = UploadRequest & { source: string; mtimeMs: number };

/**
 * Where files go: `@tvm/s3-uploader` bound to the S3 client (the real adapter), or an in-memory bucket.
 * `upload` resolves only once the object is verified; `checkDestination` rejects when the bucket cannot be used.
 */
export interface ObjectStore {
  upload(request: ObjectRequest): Promise<StoredObject>;
  checkDestination(signal?: AbortSignal): Promise<void>;
}

/** What the pipeline needs to know of a file before uploading it (never following a symlink). */
export interface FileFacts {
  isFile: boolean;
  size: number;
  mtimeMs: number;
}

/** Looks at files: `lstat` (the real adapter) or an in-memory volume. */
export interface FileProbe {
  /** @throws the file system's error (`ENOENT` ...) */
  stat(path: string): Promise<FileFacts>;
}

/**
 * Where a queued file belongs: its source, the directory its key is relative to and the path to open (inside that
 * directory's resolved path), or why it belongs nowhere.
 */
export type Placement =
  { ok: true; source: string; root: string; path: string } | { ok: false; category: string; reason: string };

/**
 * Decides whether uploads may use the link now (a metered link's lanes and daily budget, say). Absent, everything is
 * admitted. An entry refused by `mayStart` stays queued untouched (no attempt counted) and is tried again when the
 * pipeline pumps: call `Pipeline.pump()` when the verdict may have changed (a route change, the budget's reset).
 */
export interface Admission {
  /** Before an upload starts. size = bytes that will be sent (the file's size less the parts S3 holds already). */
  mayStart(entry: QueueEntry, lane: Lane, size: number): { ok: true } | { ok: false; reason: string };
  /** Before each further part of a started upload: a reason pauses it (`shouldPause`). */
  mayContinue(entry: QueueEntry, lane: Lane): string | undefined;
  /** Bytes sent in request bodies, as they are acknowledged (parts, single PUTs). */
  sent(entry: QueueEntry, lane: Lane, bytes: number): void;
}
