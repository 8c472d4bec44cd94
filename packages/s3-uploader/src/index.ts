export { createUploader } from './uploader.js';
export type { StaleUploadsOptions, StaleUploadsResult, Uploader } from './uploader.js';
export {
  DEFAULT_CONCURRENCY,
  DEFAULT_MULTIPART_THRESHOLD_BYTES,
  DEFAULT_PART_SIZE_BYTES,
  DEFAULT_STALE_UPLOAD_AGE_MS,
  utf8PathEncoding,
} from './options.js';
export type { ObjectSettings, PathEncoding, UploaderOptions } from './options.js';
export type { UploadProgress, UploadRequest, UploadResult } from './upload-job.js';
export type { StreamUploadRequest, StreamUploadResult } from './upload-stream.js';
export { SHA256_METADATA_KEY } from './verification.js';
export { objectFields } from './adapters/s3.js';
export type { ObjectAttributes, PendingUpload } from './adapters/s3.js';
export type { FileIdentity } from './adapters/file.js';
export { UploadError, UploadPausedError } from './errors.js';
export type { UploadErrorCode, UploadErrorOptions } from './errors.js';
export type { CompletedPart, MultipartState } from './multipart-state.js';
export type { ChecksumMode, PartChecksumAlgorithm } from './checksums.js';
export { systemClock } from './clock.js';
export type { Clock } from './clock.js';
export { createTokenBucket, THROTTLE_CHUNK_BYTES, throttleChunkBytes } from './token-bucket.js';
export type { TokenBucket, TokenBucketOptions } from './token-bucket.js';
export { choosePartSize, MAX_PARTS, MIN_PART_BYTES } from './part-size.js';
