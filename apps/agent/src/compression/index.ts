export * from './decision.js';
export { compressedLength, createEncoder, GZIP_LEVEL, ZSTD_FRAME_BYTES, ZSTD_LEVEL } from './codecs.js';
export type { Encoder } from './codecs.js';
export { Spool, SPOOL_DIRECTORY } from './spool.js';
export type { SpoolFile, SpoolMarker, SpoolOptions, SpoolUnavailable, SweepResult } from './spool.js';
export {
  COMPRESSION_METADATA_KEY,
  compressingUploader,
  compressionMetadata,
  ORIGINAL_SHA256_METADATA_KEY,
  ORIGINAL_SIZE_METADATA_KEY,
} from './uploader.js';
export type { CompressedUploadResult, CompressionOptions } from './uploader.js';
