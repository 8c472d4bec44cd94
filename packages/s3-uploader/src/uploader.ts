import type { S3Client } from '@aws-sdk/client-s3';
import { s3Port, type PendingUpload } from './adapters/s3.js';
import type { ChecksumMode } from './checksums.js';
import { asUploadError, requestFailed } from './errors.js';
import { invalidOption, resolveOptions, type UploaderOptions } from './options.js';
import { createTokenBucket } from './token-bucket.js';
import { UploadJob, type UploadRequest, type UploadResult } from './upload-job.js';
import { runStreamUpload, type StreamUploadRequest, type StreamUploadResult } from './upload-stream.js';

/** What `abortStaleUploads` did. */
export interface StaleUploadsResult {
  /** The uploads aborted. */
  aborted: PendingUpload[];
  /** Uploads younger than `staleUploadAgeMs`, left alone. */
  kept: number;
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
   * Aborts multipart uploads under `prefix` started more than `staleUploadAgeMs` ago (their parts are billed).
   * @throws {UploadError} code `request-failed` when the uploads cannot be listed.
   */
  abortStaleUploads(prefix?: string, signal?: AbortSignal): Promise<StaleUploadsResult>;
}

/**
 * Creates an uploader.
 * @throws {TypeError} when an option is invalid.
 */
export function createUploader(options: UploaderOptions): Uploader {
  const config = resolveOptions(options);
  const port = s3Port(config.client, config.bucket);
  const bucket = createTokenBucket(config.clock, config.bandwidthLimitBytesPerSecond);
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
    async abortStaleUploads(prefix, signal) {
      let uploads: PendingUpload[];
      try {
        uploads = await port.listMultipartUploads(prefix, signal);
      } catch (error) {
        throw asUploadError(requestFailed('ListMultipartUploads', undefined, error), undefined, signal);
      }
      const cutoff = config.clock.now() - config.staleUploadAgeMs;
      const aborted: PendingUpload[] = [];
      for (const upload of uploads) {
        if (upload.initiatedAt === undefined || upload.initiatedAt > cutoff) continue;
        try {
          await port.abortMultipartUpload(upload.key, upload.uploadId, signal);
        } catch (error) {
          throw asUploadError(requestFailed('AbortMultipartUpload', upload.key, error), upload.key, signal);
        }
        aborted.push(upload);
      }
      return { aborted, kept: uploads.length - aborted.length };
    },
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
