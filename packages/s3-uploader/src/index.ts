export {
  createUploader,
  DEFAULT_CONCURRENCY,
  DEFAULT_MULTIPART_THRESHOLD_BYTES,
  DEFAULT_PART_SIZE_BYTES,
  DEFAULT_STALE_UPLOAD_AGE_MS,
  SHA256_METADATA_KEY,
} from './uploader.js';
export type {
  StaleUploadsResult,
  StreamUploadRequest,
  UploadProgress,
  UploadRequest,
  UploadResult,
  Uploader,
  UploaderOptions,
} from './uploader.js';
export type { PendingUpload } from './adapters/s3.js';
export { UploadError } from './errors.js';
export type { UploadErrorCode, UploadErrorOptions } from './errors.js';
export type { CompletedPart, MultipartState } from './multipart-state.js';
export type { ChecksumMode, PartChecksumAlgorithm } from './checksums.js';
export { systemClock } from './clock.js';
export type { Clock } from './clock.js';
export { createTokenBucket, THROTTLE_CHUNK_BYTES } from './token-bucket.js';
export type { TokenBucket } from './token-bucket.js';
export { choosePartSize, MAX_PARTS, MIN_PART_BYTES } from './part-size.js';
