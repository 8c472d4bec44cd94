import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { classify, classifyObjectLimits } from '@tvm/error-classification';
import {
  identityOf,
  openForReading,
  readFully,
  sha256OfFile,
  ShortReadError,
  type FileIdentity,
} from './adapters/file.js';
import type { ObjectHead, S3Port } from './adapters/s3.js';
import { requestBody } from './adapters/throttled-body.js';
import {
  compositeSha256,
  hexToBase64,
  partAlgorithm,
  partChecksum,
  type ChecksumMode,
  type PartChecksumAlgorithm,
} from './checksums.js';
import {
  errorName,
  fileChanged,
  UploadPausedError,
  httpStatus,
  invalidObject,
  requestFailed,
  UploadError,
  verificationFailed,
} from './errors.js';
import { snapshot, stateMismatch, type CompletedPart, type MultipartState } from './multipart-state.js';
import type { ResolvedOptions } from './options.js';
import { choosePartSize, partCount, partLength } from './part-size.js';
import type { TokenBucket } from './token-bucket.js';
import { plainMd5Etag, SHA256_METADATA_KEY, verificationProblem } from './verification.js';

/** How far an upload is. */
export interface UploadProgress {
  /** Bytes S3 holds for this upload so far (parts from a resumed upload included). */
  bytesSent: number;
  totalBytes: number;
}

/** One file to upload. */
export interface UploadRequest {
  filePath: string;
  key: string;
  /** State saved from an earlier, interrupted upload of this file (see `onStateChange`). */
  resumeState?: MultipartState | undefined;
  /**
   * Called with the multipart state after the upload is created and after each completed part (persist it to
   * resume later), and with `undefined` when the state stopped being useful: the upload finished, was skipped, or
   * restarted from zero. Awaited; calls never overlap. Never called for single-request uploads.
   */
  onStateChange?: (state: MultipartState | undefined) => void | Promise<void>;
  /** Called after each completed part or request. Errors it throws are ignored. */
  onProgress?: (progress: UploadProgress) => void;
  /** Cancels the upload; multipart state is kept for resume, the upload is not aborted on S3. */
  signal?: AbortSignal | undefined;
  /** Extra object metadata (`x-amz-meta-*`); `sha256` is reserved. */
  metadata?: Record<string, string>;
  /**
   * Consulted before a multipart upload is created and before each new part starts. When it returns a reason, no
   * new part starts, the parts in flight finish (and are reported through `onStateChange`), and `upload()` rejects
   * with {@link UploadPausedError}; the multipart upload is kept for a later `upload()` with the last state. Never
   * consulted for single-request uploads (one request is one part).
   */
  shouldPause?: () => string | undefined;
}

/** What an upload achieved: plain data. */
export interface UploadResult {
  key: string;
  /** The object's size, equal to the file's. */
  bytes: number;
  etag: string;
  /** Hex SHA-256 of the file, also in the object's `sha256` metadata. */
  sha256: string;
  /** Set when an identical object (same size and SHA-256 metadata) was already at the key: nothing was sent. */
  skipped?: 'already-present';
  /** Number of parts, for a multipart upload. */
  parts?: number;
  /** Parts taken over from `resumeState` instead of being sent again. */
  resumedParts?: number;
  /**
   * The file version this result is about: the fstat of the descriptor that was read, checked unchanged after the
   * last byte was read. Compare it with the file's current identity instead of re-reading the path's stat, which may
   * already show a newer version.
   */
  identity: FileIdentity;
}

/** Calls a progress callback; what it throws is ignored, as a progress bar must not be able to fail an upload. */
export function notify<T>(callback: ((value: T) => void) | undefined, value: T): void {
  try {
    callback?.(value);
  } catch {
    // Deliberately ignored: see above.
  }
}

/** One run of `upload()`: the file, its handle, and what has been sent. */
export class UploadJob {
  private readonly key: string;
  private readonly algorithm: PartChecksumAlgorithm;
  private readonly signal: AbortSignal | undefined;
  private stateChain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly config: ResolvedOptions,
    private readonly port: S3Port,
    private readonly bucket: TokenBucket,
    private readonly request: UploadRequest,
    mode: ChecksumMode,
    private readonly conditionalWrites: { supported: boolean },
  ) {
    this.key = request.key;
    this.algorithm = partAlgorithm(mode);
    this.signal = request.signal;
  }

  async run(): Promise<UploadResult> {
    const handle = await this.file(() => openForReading(this.request.filePath, this.config.pathEncoding));
    try {
      const before = await this.file(() => identityOf(handle));
      const limits = classifyObjectLimits(this.key, before.size);
      if (limits) throw invalidObject(this.key, limits);
      return before.size > 0 && before.size >= this.config.multipartThresholdBytes
        ? await this.multipart(handle, before)
        : await this.single(handle, before);
    } finally {
      await handle.close().catch(() => undefined);
    }
  }

  /**
   * One PutObject with a Buffer body: the SDK can retry it, and s3rver stores it byte for byte. The duplicate check
   * rides on the write itself (`If-None-Match: *`), so a new small file costs one request instead of a HEAD and a
   * PUT; only when the key exists (412) does a HEAD decide between "already present" and overwriting.
   */
  private async single(handle: FileHandle, before: FileIdentity): Promise<UploadResult> {
    const data = Buffer.allocUnsafe(before.size);
    await this.file(() => readFully(handle, data, 0));
    const sha256 = createHash('sha256').update(data).digest('hex');
    const md5 = createHash('md5').update(data).digest();
    await this.ensureUnchanged(handle, before);
    const checksum = this.algorithm === 'SHA256' ? hexToBase64(sha256) : md5.toString('base64');
    const put = (onlyIfAbsent: boolean) =>
      this.s3('PutObject', undefined, () =>
        this.port.putObject(
          this.key,
          {
            body: requestBody(data, this.bucket, this.signal),
            length: data.length,
            algorithm: this.algorithm,
            checksum,
            sha256Hex: sha256,
          },
          this.objectMetadata(sha256),
          onlyIfAbsent,
          this.signal,
        ),
      );

    let etag: string | undefined;
    if (this.conditionalWrites.supported) {
      try {
        ({ etag } = await put(true));
      } catch (error) {
        const status = httpStatus((error as UploadError).cause);
        if (status === 501) {
          // A server that refuses conditional writes: check with a HEAD first from now on.
          this.conditionalWrites.supported = false;
        } else if (status !== 412) {
          throw error;
        }
      }
    }
    if (etag === undefined) {
      const present = await this.alreadyPresent(before, sha256);
      if (present) return present;
      ({ etag } = await put(false));
    }
    this.progress(before.size, before.size);
    // S3 (and every S3-compatible server we know) answers a plain PutObject with the MD5 of the bytes it stored:
    // equal to ours, it proves the content without a HEAD, which would cost another request per small file.
    // Anything else (SSE-KMS ETags, a server that stored something different) is checked with a HEAD.
    if (plainMd5Etag(etag) !== md5.toString('hex')) {
      await this.verify(before.size, sha256, this.algorithm === 'SHA256' ? checksum : undefined);
    }
    return { key: this.key, bytes: before.size, etag: etag ?? '', sha256, identity: before };
  }

  private async multipart(handle: FileHandle, before: FileIdentity): Promise<UploadResult> {
    // The SHA-256 must be known before CreateMultipartUpload, which carries it as metadata: one read ahead.
    const sha256 = await this.file(() => sha256OfFile(handle, before.size, this.signal));
    await this.ensureUnchanged(handle, before);
    const saved = this.request.resumeState;
    const present = await this.alreadyPresent(before, sha256);
    if (present) {
      if (saved) {
        await this.emitState(undefined);
        await this.abortQuietly(saved);
      }
      return present;
    }

    const identity = {
      bucket: this.config.bucket,
      key: this.key,
      size: before.size,
      mtimeMs: before.mtimeMs,
      sha256,
      checksumAlgorithm: this.algorithm,
    };
    let state: MultipartState | undefined;
    if (saved) {
      if (stateMismatch(saved, identity) === undefined) {
        state = await this.reconcile(snapshot(saved));
      } else {
        await this.emitState(undefined);
        await this.abortQuietly(saved);
      }
    }
    let resumedParts = state?.parts.length ?? 0;

    let etag: string | undefined;
    for (let restarts = 0; ; restarts++) {
      if (!state) {
        this.pauseIfAsked();
        const uploadId = await this.s3('CreateMultipartUpload', undefined, () =>
          this.port.createMultipartUpload(this.key, this.algorithm, this.objectMetadata(sha256), this.signal),
        );
        state = {
          version: 1,
          ...identity,
          uploadId,
          partSize: choosePartSize(before.size, this.config.partSizeBytes),
          startedAt: this.config.clock.now(),
          parts: [],
        };
        await this.emitState(snapshot(state));
      }
      try {
        await this.sendMissingParts(handle, state);
        await this.ensureUnchanged(handle, before, state);
        const current = state;
        ({ etag } = await this.s3('CompleteMultipartUpload', undefined, () =>
          this.port.completeMultipartUpload(
            this.key,
            current.uploadId,
            current.checksumAlgorithm,
            current.parts,
            this.signal,
          ),
        ));
        break;
      } catch (error) {
        // S3 no longer knows the upload (aborted, expired) or rejects a recorded part: start over once, cleanly.
        if (restarts > 0 || this.signal?.aborted || !isRestartable(error)) throw error;
        await this.emitState(undefined);
        await this.abortQuietly(state);
        state = undefined;
        resumedParts = 0;
      }
    }
    await this.emitState(undefined);
    const expected =
      state.checksumAlgorithm === 'SHA256' ? compositeSha256(state.parts.map((p) => p.checksum)) : undefined;
    await this.verify(before.size, sha256, expected);
    return {
      key: this.key,
      bytes: before.size,
      etag: etag ?? '',
      sha256,
      parts: state.parts.length,
      resumedParts,
      identity: before,
    };
  }

  /** Aligns saved parts with what S3 holds; undefined when S3 no longer knows the upload. */
  private async reconcile(state: MultipartState): Promise<MultipartState | undefined> {
    let listed: Awaited<ReturnType<S3Port['listParts']>>;
    try {
      listed = await this.port.listParts(this.key, state.uploadId, this.signal);
    } catch (error) {
      if (errorName(error) === 'NoSuchUpload') {
        await this.emitState(undefined);
        return undefined;
      }
      // Some S3-compatible servers (s3rver among them) cannot list parts: the saved state is then the only record.
      const status = httpStatus(error);
      if (status === 405 || status === 501) return state;
      throw requestFailed('ListParts', this.key, error);
    }
    const saved = new Map(state.parts.map((part) => [part.partNumber, part]));
    const count = partCount(state.size, state.partSize);
    const parts: CompletedPart[] = [];
    for (const part of listed) {
      if (part.partNumber > count || part.size !== partLength(state.size, state.partSize, part.partNumber))
        continue;
      const mine = saved.get(part.partNumber);
      // A part S3 holds that the state never recorded (the process died before persisting it) is usable when its
      // checksum is known: S3 verified the bytes against it on arrival.
      const checksum =
        state.checksumAlgorithm === 'SHA256'
          ? (part.checksumSha256 ?? (mine?.etag === part.etag ? mine.checksum : undefined))
          : mine?.etag === part.etag
            ? mine.checksum
            : md5FromEtag(part.etag);
      if (checksum === undefined) continue;
      parts.push({ partNumber: part.partNumber, etag: part.etag, checksum });
    }
    state.parts = parts.sort((a, b) => a.partNumber - b.partNumber);
    await this.emitState(snapshot(state));
    return state;
  }

  /** Sends every part S3 does not hold yet, `concurrency` at a time, recording each as it completes. */
  private async sendMissingParts(handle: FileHandle, state: MultipartState): Promise<void> {
    const done = new Set(state.parts.map((part) => part.partNumber));
    const missing: number[] = [];
    const count = partCount(state.size, state.partSize);
    for (let n = 1; n <= count; n++) if (!done.has(n)) missing.push(n);
    let sent = state.parts.reduce(
      (sum, part) => sum + partLength(state.size, state.partSize, part.partNumber),
      0,
    );
    this.progress(sent, state.size);

    let cursor = 0;
    let failure: { error: unknown } | undefined;
    let paused: string | undefined;
    const worker = async (): Promise<void> => {
      // One buffer per worker, reused for every part it sends: memory stays at concurrency x part size.
      const buffer = Buffer.allocUnsafe(Math.min(state.partSize, state.size));
      while (failure === undefined && paused === undefined && cursor < missing.length) {
        this.signal?.throwIfAborted();
        paused = this.request.shouldPause?.();
        if (paused !== undefined) break;
        const partNumber = missing[cursor++] as number;
        const length = partLength(state.size, state.partSize, partNumber);
        const data = buffer.subarray(0, length);
        await this.file(() => readFully(handle, data, (partNumber - 1) * state.partSize));
        const checksum = partChecksum(data, state.checksumAlgorithm);
        const etag = await this.s3('UploadPart', partNumber, () =>
          this.port.uploadPart(
            this.key,
            state.uploadId,
            partNumber,
            {
              body: requestBody(data, this.bucket, this.signal),
              length,
              algorithm: state.checksumAlgorithm,
              checksum,
              sha256Hex:
                state.checksumAlgorithm === 'SHA256'
                  ? Buffer.from(checksum, 'base64').toString('hex')
                  : undefined,
            },
            this.signal,
          ),
        );
        insertPart(state.parts, { partNumber, etag, checksum });
        sent += length;
        this.progress(sent, state.size);
        await this.emitState(snapshot(state));
      }
    };
    // After a failure no new part starts, but parts in flight may finish and be recorded: less to resend later.
    const workers = Array.from({ length: Math.min(this.config.concurrency, missing.length) }, () =>
      worker().catch((error: unknown) => {
        failure ??= { error };
      }),
    );
    await Promise.all(workers);
    if (failure) throw failure.error;
    if (paused !== undefined && cursor < missing.length) throw new UploadPausedError(this.key, paused);
  }

  /** Rejects with {@link UploadPausedError} when the caller asks to pause now. */
  private pauseIfAsked(): void {
    const reason = this.request.shouldPause?.();
    if (reason !== undefined) throw new UploadPausedError(this.key, reason);
  }

  /** An identical object already at the key counts as uploaded; size alone never decides it. */
  private async alreadyPresent(identity: FileIdentity, sha256: string): Promise<UploadResult | undefined> {
    const { size } = identity;
    let head: ObjectHead | undefined;
    try {
      head = await this.head();
    } catch (error) {
      // A HEAD response has no body, so a 403 cannot say whether the key is wrong, the credentials are invalid or the
      // object is just not readable. The write that follows fails with S3's real reason (e.g. InvalidAccessKeyId),
      // which is what operators need to read.
      if (httpStatus((error as UploadError).cause) === 403) return undefined;
      throw error;
    }
    if (!head || head.size !== size || head.metadata[SHA256_METADATA_KEY] !== sha256) return undefined;
    return {
      key: this.key,
      bytes: size,
      etag: head.etag ?? '',
      sha256,
      skipped: 'already-present',
      identity,
    };
  }

  /** A HEAD after the upload: the object must have the file's size, SHA-256 metadata and (where kept) checksum. */
  private async verify(size: number, sha256: string, checksum: string | undefined): Promise<void> {
    const problem = verificationProblem(await this.head(), { size, sha256, checksum });
    if (problem !== undefined) throw verificationFailed(this.key, problem);
  }

  private head(): Promise<ObjectHead | undefined> {
    return this.s3('HeadObject', undefined, () =>
      this.port.headObject(this.key, this.algorithm === 'SHA256', this.signal),
    );
  }

  /**
   * Rejects with `file-changed` when the open file's size or mtime moved since `before`. The descriptor, not the
   * path, is asked: a file rotated away mid-upload is still the version that was read, and is what `identity` names.
   */
  private async ensureUnchanged(
    handle: FileHandle,
    before: FileIdentity,
    state?: MultipartState,
  ): Promise<void> {
    const now = await this.file(() => identityOf(handle));
    if (now.size === before.size && now.mtimeMs === before.mtimeMs) return;
    if (state) {
      // The parts hold a mix of old and new bytes: this upload can never be completed.
      await this.emitState(undefined);
      await this.abortQuietly(state);
    }
    throw fileChanged(
      this.key,
      this.request.filePath,
      `size ${before.size} -> ${now.size}, mtime ${before.mtimeMs} -> ${now.mtimeMs}`,
    );
  }

  private objectMetadata(sha256: string): Record<string, string> {
    return { ...this.request.metadata, [SHA256_METADATA_KEY]: sha256 };
  }

  /** Delivers states to the caller in order, one at a time. */
  private emitState(state: MultipartState | undefined): Promise<void> {
    const callback = this.request.onStateChange;
    if (!callback) return Promise.resolve();
    const run = this.stateChain.then(() => callback(state));
    this.stateChain = run.catch(() => undefined);
    return run.then(
      () => undefined,
      (error: unknown) => {
        throw new UploadError(
          'state-callback-failed',
          `Saving the upload state of ${JSON.stringify(this.key)} failed: ${classify(error).message}`,
          { cause: error, key: this.key },
        );
      },
    );
  }

  private progress(bytesSent: number, totalBytes: number): void {
    notify(this.request.onProgress, { bytesSent, totalBytes });
  }

  /** Best effort: the stale-upload clean-up catches whatever this misses. */
  private async abortQuietly(state: Pick<MultipartState, 'key' | 'uploadId'>): Promise<void> {
    try {
      await this.port.abortMultipartUpload(state.key, state.uploadId, this.signal);
    } catch {
      // An upload S3 no longer knows, or a server that cannot abort: nothing left to clean.
    }
  }

  private async file<T>(action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } catch (error) {
      if (error instanceof ShortReadError) {
        throw fileChanged(this.key, this.request.filePath, error.message);
      }
      if (error instanceof UploadError || this.signal?.aborted) throw error;
      const classification = classify(error);
      throw new UploadError(
        'file-unreadable',
        `Reading ${this.request.filePath} failed: ${classification.message}`,
        {
          cause: error,
          classification,
          key: this.key,
        },
      );
    }
  }

  private async s3<T>(
    operation: string,
    partNumber: number | undefined,
    action: () => Promise<T>,
  ): Promise<T> {
    try {
      return await action();
    } catch (error) {
      throw requestFailed(operation, this.key, error, partNumber);
    }
  }
}

function insertPart(parts: CompletedPart[], part: CompletedPart): void {
  let index = parts.length;
  while (index > 0 && (parts[index - 1] as CompletedPart).partNumber > part.partNumber) index--;
  parts.splice(index, 0, part);
}

/** A plain ETag is the part's MD5: usable as its checksum when the state lost it. */
function md5FromEtag(etag: string): string | undefined {
  const hex = plainMd5Etag(etag);
  return hex === undefined ? undefined : Buffer.from(hex, 'hex').toString('base64');
}

function isRestartable(error: unknown): boolean {
  const cause = error instanceof UploadError && error.code === 'request-failed' ? error.cause : error;
  const name = errorName(cause);
  return name === 'NoSuchUpload' || name === 'InvalidPart' || name === 'InvalidPartOrder';
}
