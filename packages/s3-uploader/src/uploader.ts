import type { S3Client } from '@aws-sdk/client-s3';
import { s3Port, type PendingUpload } from './adapters/s3.js';
import type { ChecksumMode } from './checksums.js';
import { asUploadError, errorName, requestFailed, UploadPausedError } from './errors.js';
import { integerOption, invalidOption, resolveOptions, type UploaderOptions } from './options.js';
import { createTokenBucket } from './token-bucket.js';
import { notify, UploadJob, type UploadRequest, type UploadResult } from './upload-job.js';
import { runStreamUpload, type StreamUploadRequest, type StreamUploadResult } from './upload-stream.js';

/** What `abortStaleUploads` did. */
export interface StaleUploadsResult {
  /** The uploads aborted. */
  aborted: PendingUpload[];
  /** Uploads left alone: younger than the age limit, or kept by `keep`. */
  kept: number;
}

/** Options of `abortStaleUploads`. */
export interface StaleUploadsOptions {
  /** Only uploads whose key starts with this. @default every upload in the bucket */
  prefix?: string;
  /** Only uploads started at least this long ago (by the uploader's clock). @default staleUploadAgeMs */
  olderThanMs?: number;
  /** Spares an upload the caller still uses (e.g. one its queue will resume). @default keeps none */
  keep?: (upload: PendingUpload) => boolean;
  /** Called after each abort, before the next one: a log line per abort even when a later one fails. */
  onAborted?: (upload: PendingUpload) => void;
  signal?: AbortSignal;
}

/** An uploader bound to one client and bucket. */
export interface Uploader {
  /**
   * Uploads one file, verified: resolves only when S3 holds an object of the file's size and SHA-256.
   * @throws {UploadError} with the classification of the failure.
   */
  upload(request: UploadRequest): Promise<UploadResult>;
  /**
   * Uploads a stream of unknown length (e.g. a log being compressed on the fly) with lib-storage, then verifies the
   * object's size. Not resumable, and no `sha256` metadata (it is known only at the end; it is returned instead), so
   * never `skipped`. The bandwidth limit paces reading the stream; each part is then sent as one request.
   * @throws {UploadError} with the classification of the failure.
   */
  uploadStream(request: StreamUploadRequest): Promise<StreamUploadResult>;
  /**
   * Changes the shared bandwidth limit (bytes/s, 0 = unlimited) for every upload of this uploader, in flight included.
   * @throws {TypeError} when `bytesPerSecond` is not a non-negative integer.
   */
  setBandwidthLimit(bytesPerSecond: number): void;
  /**
   * A cheap check that the bucket is reachable and accessible (HeadBucket): the connectivity probe and the
   * destination re-check.
   * @throws {UploadError} code `request-failed`, classified (e.g. `network`, `bucket-not-found`, `access-denied`).
   */
  checkDestination(signal?: AbortSignal): Promise<void>;
  /**
   * Aborts multipart uploads under `prefix` started more than `staleUploadAgeMs` (or `olderThanMs`) ago, except
   * those `keep` spares: their parts are billed until then. An upload S3 no longer knows (`NoSuchUpload`) is skipped.
   * Takes the prefix alone, or the options.
   * @throws {UploadError} code `request-failed` when the uploads cannot be listed or one cannot be aborted.
   * @throws {TypeError} when `olderThanMs` is not a non-negative integer.
   */
  abortStaleUploads(
    options?: string | StaleUploadsOptions,
    signal?: AbortSignal,
  ): Promise<StaleUploadsResult>;
}

/**
 * Creates an uploader.
 * @throws {TypeError} when an option is invalid.
 */
export function createUploader(options: UploaderOptions): Uploader {
  const config = resolveOptions(options);
  const port = s3Port(config.client, config.bucket, config.objectSettings);
  const bucket = config.bandwidth ?? createTokenBucket(config.clock, config.bandwidthLimitBytesPerSecond);
  let mode: Promise<ChecksumMode> | undefined;
  // Shared by the uploads of this uploader: learnt once from the server.
  const conditionalWrites = { supported: true };
  const checksumMode = (): Promise<ChecksumMode> =>
    (mode ??= config.checksumMode ? Promise.resolve(config.checksumMode) : clientChecksumMode(config.client));

  return {
    async upload(request) {
      checkRequest(request);
      try {
        request.signal?.throwIfAborted();
        const job = new UploadJob(config, port, bucket, request, await checksumMode(), conditionalWrites);
        return await job.run();
      } catch (error) {
        if (error instanceof UploadPausedError && !request.signal?.aborted) throw error;
        throw asUploadError(error, request.key, request.signal);
      }
    },
    uploadStream(request) {
      return runStreamUpload(config, port, bucket, checksumMode, request);
    },
    setBandwidthLimit(bytesPerSecond) {
      bucket.setRate(bytesPerSecond);
    },
    async checkDestination(signal) {
      try {
        await port.headBucket(signal);
      } catch (error) {
        throw asUploadError(requestFailed('HeadBucket', undefined, error), undefined, signal);
      }
    },
    async abortStaleUploads(options, positionalSignal) {
      const { prefix, olderThanMs, keep, onAborted, signal } = staleUploadsOptions(
        options,
        positionalSignal,
        config.staleUploadAgeMs,
      );
      let uploads: PendingUpload[];
      try {
        uploads = await port.listMultipartUploads(prefix, signal);
      } catch (error) {
        throw asUploadError(requestFailed('ListMultipartUploads', undefined, error), undefined, signal);
      }
      const cutoff = config.clock.now() - olderThanMs;
      const aborted: PendingUpload[] = [];
      for (const upload of uploads) {
        // No start time (a server that omits it): never old enough to be sure.
        if (upload.initiatedAt === undefined || upload.initiatedAt > cutoff || keep(upload)) continue;
        try {
          await port.abortMultipartUpload(upload.key, upload.uploadId, signal);
        } catch (error) {
          // Aborted meanwhile (another process, a lifecycle rule): nothing left to bill.
          if (errorName(error) === 'NoSuchUpload') continue;
          throw asUploadError(requestFailed('AbortMultipartUpload', upload.key, error), upload.key, signal);
        }
        aborted.push(upload);
        notify(onAborted, upload);
      }
      return { aborted, kept: uploads.length - aborted.length };
    },
  };
}

function staleUploadsOptions(
  options: string | StaleUploadsOptions | undefined,
  signal: AbortSignal | undefined,
  defaultAgeMs: number,
): Required<Omit<StaleUploadsOptions, 'prefix' | 'signal' | 'onAborted'>> &
  Pick<StaleUploadsOptions, 'onAborted'> & { prefix: string | undefined; signal: AbortSignal | undefined } {
  if (options === undefined || typeof options === 'string') {
    return { prefix: options, olderThanMs: defaultAgeMs, keep: () => false, signal };
  }
  if (typeof options !== 'object' || options === null) {
    invalidOption('options', 'a prefix string or an options object', options);
  }
  return {
    prefix: options.prefix,
    olderThanMs: integerOption('olderThanMs', options.olderThanMs ?? defaultAgeMs, 0),
    keep: options.keep ?? (() => false),
    ...(options.onAborted === undefined ? {} : { onAborted: options.onAborted }),
    signal: options.signal ?? signal,
  };
}

function checkRequest(request: UploadRequest): void {
  if (typeof request !== 'object' || request === null) invalidOption('request', 'an object', request);
  if (typeof request.filePath !== 'string' || request.filePath.length === 0) {
    invalidOption('filePath', 'a non-empty string', request.filePath);
  }
  if (typeof request.key !== 'string') invalidOption('key', 'a string', request.key);
}

/** The client's own checksum setting, so the default mode never fights it. */
async function clientChecksumMode(client: S3Client): Promise<ChecksumMode> {
  const setting: unknown = (client.config as { requestChecksumCalculation?: unknown })
    .requestChecksumCalculation;
  const value: unknown =
    typeof setting === 'function' ? await (setting as () => Promise<unknown>)() : setting;
  return value === 'WHEN_REQUIRED' ? 'when_required' : 'when_supported';
}
