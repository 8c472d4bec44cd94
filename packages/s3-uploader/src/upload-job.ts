import type { FileHandle } from 'node:fs/promises';
import { classify, classifyObjectLimits } from '@tvm/error-classification';
import {
  identityOf,
  openForReading,
  digestFile,
  readFully,
  ShortReadError,
  type FileDigests,
  type FileIdentity,
} from './adapters/file.js';
import type { ObjectAttributes, ObjectHead, S3Port } from './adapters/s3.js';
import { requestBody } from './adapters/throttled-body.js';
import {
  bodyChecksum,
  crc32,
  crc32Base64,
  hexToBase64,
  partAlgorithm,
  sha256Hex,
  type BodyChecksum,
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
  /** Object tags, sent with PutObject / CreateMultipartUpload (`x-amz-tagging`; S3 allows 10). */
  tags?: Readonly<Record<string, string>>;
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
    const { handle, identity: before } = await this.file(() =>
      openForReading(this.request.filePath, this.config.pathEncoding),
    );
    try {
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
    const sha256 = sha256Hex(data);
    // The MD5 proves the stored bytes through the ETag below; in `when_supported` mode the file's SHA-256 (computed
    // anyway) is the checksum header, else the MD5 is sent as `Content-MD5`.
    const md5 = bodyChecksum(data, 'MD5');
    await this.ensureUnchanged(handle, before);
    const checksum: BodyChecksum =
      this.algorithm === 'CRC32' ? { algorithm: 'SHA256', value: hexToBase64(sha256) } : md5;
    const put = (onlyIfAbsent: boolean) =>
      this.s3('PutObject', undefined, () =>
        this.port.putObject(
          this.key,
          {
            body: requestBody(data, this.bucket, this.signal),
            length: data.length,
            checksum,
            sha256Hex: sha256,
          },
          this.objectAttributes(sha256),
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
    if (plainMd5Etag(etag) !== Buffer.from(md5.value, 'base64').toString('hex')) {
      await this.verify(before.size, sha256, checksum);
    }
    return { key: this.key, bytes: before.size, etag: etag ?? '', sha256, identity: before };
  }

  private async multipart(handle: FileHandle, before: FileIdentity): Promise<UploadResult> {
    // The SHA-256 must be known before CreateMultipartUpload, which carries it as metadata: one read ahead, which
    // also yields the part and whole-file CRC32s a CRC32 upload sends, so the parts are never hashed again.
    const partSize = choosePartSize(before.size, this.config.partSizeBytes);
    // The HEAD that looks for an identical object needs no digest to be asked: it goes while the file is read
    // ahead, a round trip less per multipart upload (100-300 ms on a vehicle's cellular link). Settled, so that a
    // failed read ahead leaves no rejection unobserved.
    const lookup = this.head().then(
      (head) => ({ head }),
      (error: unknown) => ({ error }),
    );
    const digests = await this.file(() =>
      digestFile(handle, before.size, this.algorithm === 'CRC32' ? partSize : undefined, this.signal),
    );
    const { sha256 } = digests;
    await this.ensureUnchanged(handle, before);
    const saved = this.request.resumeState;
    const present = await this.alreadyPresent(before, sha256, lookup);
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
          this.port.createMultipartUpload(
            this.key,
            this.algorithm,
            this.objectAttributes(sha256),
            this.signal,
          ),
        );
        state = {
          version: 1,
          ...identity,
          uploadId,
          partSize,
          startedAt: this.config.clock.now(),
          parts: [],
        };
        await this.emitState(snapshot(state));
      }
      try {
        await this.sendMissingParts(handle, state, digests);
        await this.ensureUnchanged(handle, before, state);
        const current = state;
        ({ etag } = await this.s3('CompleteMultipartUpload', undefined, () =>
          this.port.completeMultipartUpload(
            this.key,
            current.uploadId,
            current.checksumAlgorithm,
            current.parts,
            objectCrc32(digests),
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
    const crc = objectCrc32(digests);
    await this.verify(
      before.size,
      sha256,
      crc === undefined ? undefined : { algorithm: 'CRC32' as const, value: crc },
    );
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
      // A part S3 holds that the state never recorded (the process died before persisting it) is usable: S3 verified
      // its bytes on arrival against its CRC32 (which completion needs, so it must be known) or its signed SHA-256
      // (which completion does not need: recorded as unknown, '').
      const recorded = mine?.etag === part.etag ? mine.checksum : undefined;
      const checksum =
        state.checksumAlgorithm === 'CRC32' ? (part.checksumCrc32 ?? recorded) : (recorded ?? '');
      if (checksum === undefined) continue;
      parts.push({ partNumber: part.partNumber, etag: part.etag, checksum });
    }
    state.parts = parts.sort((a, b) => a.partNumber - b.partNumber);
    await this.emitState(snapshot(state));
    return state;
  }

  /** Sends every part S3 does not hold yet, `concurrency` at a time, recording each as it completes. */
  private async sendMissingParts(
    handle: FileHandle,
    state: MultipartState,
    digests: FileDigests,
  ): Promise<void> {
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
        // CRC32 parts carry the CRC32 of the bytes the SHA-256 was computed over (from the read ahead, when it used
        // this part size): a part whose bytes changed since is refused by S3. Other parts are signed with their SHA-256.
        const known = digests.partSize === state.partSize ? digests.partCrc32s?.[partNumber - 1] : undefined;
        const hex = state.checksumAlgorithm === 'CRC32' ? undefined : sha256Hex(data);
        const checksum =
          hex === undefined ? crc32Base64(known ?? crc32(data)) : Buffer.from(hex, 'hex').toString('base64');
        const etag = await this.s3('UploadPart', partNumber, () =>
          this.port.uploadPart(
            this.key,
            state.uploadId,
            partNumber,
            {
              body: requestBody(data, this.bucket, this.signal),
              length,
              checksum: hex === undefined ? { algorithm: 'CRC32', value: checksum } : undefined,
              sha256Hex: hex,
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

  /**
   * An identical object already at the key counts as uploaded; size alone never decides it. `lookup` is a HEAD
   * already under way (settled into its head or its error); without one, the HEAD is made now.
   */
  private async alreadyPresent(
    identity: FileIdentity,
    sha256: string,
    lookup?: Promise<{ head: ObjectHead | undefined } | { error: unknown }>,
  ): Promise<UploadResult | undefined> {
    const { size } = identity;
    let head: ObjectHead | undefined;
    try {
      const looked = lookup ? await lookup : { head: await this.head() };
      if ('error' in looked) throw looked.error;
      head = looked.head;
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
  private async verify(size: number, sha256: string, checksum: BodyChecksum | undefined): Promise<void> {
    const problem = verificationProblem(await this.head(), { size, sha256, checksum });
    if (problem !== undefined) throw verificationFailed(this.key, problem);
  }

  private head(): Promise<ObjectHead | undefined> {
    return this.s3('HeadObject', undefined, () =>
      this.port.headObject(this.key, this.algorithm === 'CRC32', this.signal),
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

  private objectAttributes(sha256: string): ObjectAttributes {
    return { metadata: { ...this.request.metadata, [SHA256_METADATA_KEY]: sha256 }, tags: this.request.tags };
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

/** The whole file's CRC32 (base64) when the read ahead computed it (CRC32 uploads). */
function objectCrc32(digests: FileDigests): string | undefined {
  return digests.crc32 === undefined ? undefined : crc32Base64(digests.crc32);
}

function isRestartable(error: unknown): boolean {
  const cause = error instanceof UploadError && error.code === 'request-failed' ? error.cause : error;
  const name = errorName(cause);
  return name === 'NoSuchUpload' || name === 'InvalidPart' || name === 'InvalidPartOrder';
}
