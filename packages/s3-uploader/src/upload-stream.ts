import { createHash } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { classifyObjectLimits } from '@tvm/error-classification';
import { uploadStream, type S3Port } from './adapters/s3.js';
import type { ChecksumMode } from './checksums.js';
import { asUploadError, invalidObject, requestFailed, verificationFailed } from './errors.js';
import { invalidOption, type ResolvedOptions } from './options.js';
import { notify } from './upload-job.js';
import type { UploadResult } from './upload-job.js';
import { throttleChunkBytes, type TokenBucket } from './token-bucket.js';
import { verificationProblem } from './verification.js';

/** A stream of unknown length to upload (see {@link Uploader.uploadStream}). */
export interface StreamUploadRequest {
  body: Readable | AsyncIterable<Uint8Array>;
  key: string;
  /** Called as lib-storage completes parts. Errors it throws are ignored. */
  onProgress?: (progress: { bytesSent: number }) => void;
  signal?: AbortSignal | undefined;
  /** Extra object metadata (`x-amz-meta-*`). */
  metadata?: Record<string, string>;
  /** Object tags, sent with the upload (`x-amz-tagging`; S3 allows 10). */
  tags?: Readonly<Record<string, string>>;
}

/** What `uploadStream` resolves with: an upload result that is never skipped nor resumed. */
export type StreamUploadResult = Omit<UploadResult, 'skipped' | 'resumedParts' | 'identity'>;

/** Uploads a stream with lib-storage, then checks the object's size with a HEAD. */
export async function runStreamUpload(
  config: ResolvedOptions,
  port: S3Port,
  bucket: TokenBucket,
  mode: () => Promise<ChecksumMode>,
  request: StreamUploadRequest,
): Promise<StreamUploadResult> {
  const { key, signal } = request;
  if (typeof key !== 'string') invalidOption('key', 'a string', key);
  try {
    signal?.throwIfAborted();
    const limits = classifyObjectLimits(key, 0);
    if (limits) throw invalidObject(key, limits);
    const hash = createHash('sha256');
    let bytes = 0;
    const meter = pacedMeter(bucket, signal, (chunk) => {
      hash.update(chunk);
      bytes += chunk.length;
    });
    const source = request.body instanceof Readable ? request.body : Readable.from(request.body);
    source.on('error', (error) => meter.destroy(error));
    source.pipe(meter);
    const { etag } = await uploadStream(config.client, config.bucket, key, meter, {
      partSize: config.partSizeBytes,
      queueSize: config.concurrency,
      // lib-storage's parts are checksummed by the SDK: SHA-256 is native, its CRC32C and CRC64NVME are JavaScript.
      algorithm: (await mode()) === 'when_supported' ? 'SHA256' : undefined,
      attributes: { metadata: { ...request.metadata }, tags: request.tags },
      settings: config.objectSettings,
      signal,
      onProgress: (bytesSent) => notify(request.onProgress, { bytesSent }),
    }).catch((error: unknown) => {
      throw requestFailed('Upload', key, error);
    });
    const head = await port.headObject(key, false, signal).catch((error: unknown) => {
      throw requestFailed('HeadObject', key, error);
    });
    const problem = verificationProblem(head, { size: bytes });
    if (problem !== undefined) throw verificationFailed(key, problem);
    return { key, bytes, etag: etag ?? '', sha256: hash.digest('hex') };
  } catch (error) {
    throw asUploadError(error, key, signal);
  }
}

/** A pass-through that observes every chunk and releases it as the shared token bucket allows. */
function pacedMeter(
  bucket: TokenBucket,
  signal: AbortSignal | undefined,
  observe: (chunk: Buffer) => void,
): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      observe(chunk);
      const pace = async (): Promise<void> => {
        for (let offset = 0; offset < chunk.length;) {
          const piece = Math.min(throttleChunkBytes(bucket.rate), chunk.length - offset);
          await bucket.take(piece, signal);
          offset += piece;
        }
      };
      pace().then(
        () => callback(null, chunk),
        (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
      );
    },
  });
}
