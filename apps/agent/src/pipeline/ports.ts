import type { FailedList, ProcessedRegistry, QueueEntry, UploadQueue } from '@tvm/durable-queue';
import type { UploadRequest, UploadResult } from '@tvm/s3-uploader';
import type { SentVersion } from './transition.js';
import type { Lane } from '../lanes.js';

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
export type StoredObject = Pick<UploadResult, 'key' | 'bytes' | 'skipped' | 'parts' | 'resumedParts'> & {
  version: SentVersion;
};

/**
 * Where files go: `@tvm/s3-uploader` bound to the S3 client (the real adapter), or an in-memory bucket.
 * `upload` resolves only once the object is verified; `checkDestination` rejects when the bucket cannot be used.
 */
export interface ObjectStore {
  upload(request: UploadRequest): Promise<StoredObject>;
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
 * Whether an upload may start or go on (metered links: the lane rule and the daily budget). Absent = everything is
 * admitted. An entry refused by `mayStart` stays queued untouched (no attempt counted) and is tried again when the
 * pipeline pumps; the admission calls `Pipeline.pump()` when its verdict may have changed.
 */
export interface Admission {
  /** Before an upload starts. size = bytes that will be sent. */
  mayStart(entry: QueueEntry, lane: Lane, size: number): { ok: true } | { ok: false; reason: string };
  /** Before each further part of a started upload: a reason pauses it (shouldPause). */
  mayContinue(entry: QueueEntry, lane: Lane): string | undefined;
  /** Bytes sent in request bodies, as they are acknowledged (parts, single PUTs). */
  sent(entry: QueueEntry, lane: Lane, bytes: number): void;
}
