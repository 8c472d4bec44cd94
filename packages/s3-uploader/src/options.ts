import type { S3Client } from '@aws-sdk/client-s3';
import type { ChecksumMode } from './checksums.js';
import { systemClock, type Clock } from './clock.js';
import { MAX_PART_BYTES, MIN_PART_BYTES } from './part-size.js';
import type { TokenBucket } from './token-bucket.js';

const MIB = 1024 * 1024;
/** Default size from which a file goes multipart. */
export const DEFAULT_MULTIPART_THRESHOLD_BYTES = 8 * MIB;
/** Default (and preferred) part size. */
export const DEFAULT_PART_SIZE_BYTES = 8 * MIB;
/** Default number of parts in flight per upload. */
export const DEFAULT_CONCURRENCY = 4;
/** Default age after which an unfinished multipart upload is aborted by `abortStaleUploads()`. */
export const DEFAULT_STALE_UPLOAD_AGE_MS = 7 * 24 * 60 * 60 * 1000;
// PutObject accepts at most 5 GiB, so no file above that may take the single-request path.
const MAX_SINGLE_PUT_BYTES = 5 * 1024 ** 3;

/**
 * How string paths map to the bytes of file names. Linux names are bytes and need not be UTF-8; a caller that holds
 * such names in a string form of its own (for example PEP 383 "surrogateescape") passes its pair, and the file is
 * opened, and its directory resolved, through it.
 */
export interface PathEncoding {
  /** The path as `node:fs` takes it; what it throws fails the upload as `file-unreadable`. */
  toFs(path: string): string | Buffer;
  /** A path the kernel returned (realpath), as the caller's string. */
  fromFs(path: Buffer): string;
}

/** Node's own mapping: strings are UTF-8, bytes that are not valid UTF-8 come back as U+FFFD. */
export const utf8PathEncoding: PathEncoding = {
  toFs: (path) => path,
  fromFs: (path) => path.toString('utf8'),
};

/**
 * How every object is stored (sent with PutObject and CreateMultipartUpload), for S3 lifecycle and compliance rules.
 * Field names and values are S3's own.
 */
export interface ObjectSettings {
  /** `STANDARD_IA`, `INTELLIGENT_TIERING`, ... @default the bucket's default (STANDARD) */
  storageClass?: string | undefined;
  /** Server-side encryption. @default the bucket's default encryption */
  serverSideEncryption?: 'AES256' | 'aws:kms' | undefined;
  /** The KMS key (id, ARN or alias) for `aws:kms`. @default the account's `aws/s3` key */
  sseKmsKeyId?: string | undefined;
  /** An S3 Bucket Key for `aws:kms` (fewer KMS requests). */
  bucketKeyEnabled?: boolean | undefined;
}

/** Options of `createUploader()`. */
export interface UploaderOptions {
  /** The S3 client to send with; never created here. Its region, endpoint, credentials and retries apply. */
  client: S3Client;
  /** The destination bucket. */
  bucket: string;
  /** Time source for the bandwidth limiter and the stale-upload age. @default systemClock */
  clock?: Clock;
  /** Files of at least this size go multipart (empty files never do). @default 8 MiB */
  multipartThresholdBytes?: number;
  /** Preferred part size, grown in whole MiB when a file would need more than 10,000 parts. @default 8 MiB */
  partSizeBytes?: number;
  /** Parts in flight per upload; memory is bounded by `concurrency` x part size. @default 4 */
  concurrency?: number;
  /**
   * `when_supported`: SHA-256 per part and a checksum S3 verifies over the whole object; `when_required`:
   * `Content-MD5` only, for S3-compatible servers without flexible checksums.
   * @default the client's `requestChecksumCalculation` (`WHEN_REQUIRED` -> `when_required`)
   */
  checksumMode?: ChecksumMode;
  /** Bytes per second shared by all uploads of this uploader; 0 = unlimited. @default 0 */
  bandwidthLimitBytesPerSecond?: number;
  /**
   * A token bucket (from `createTokenBucket`) to pace this uploader's bodies with instead of one of its own: one
   * limit shared by several uploaders (an S3 client replaced while uploads go on keeps the limit whole). When given,
   * `bandwidthLimitBytesPerSecond` must be absent, and `setBandwidthLimit()` changes the shared bucket.
   */
  bandwidth?: TokenBucket;
  /** Multipart uploads older than this are aborted by `abortStaleUploads`. @default 7 days */
  staleUploadAgeMs?: number;
  /** How `filePath` strings map to file names' bytes. @default utf8PathEncoding (Node's own) */
  pathEncoding?: PathEncoding;
  /** Storage class and server-side encryption of every object. @default {} (the bucket's defaults) */
  objectSettings?: ObjectSettings;
}

/** The options with every default applied. */
export type ResolvedOptions = Required<Omit<UploaderOptions, 'checksumMode' | 'bandwidth'>> & {
  checksumMode: ChecksumMode | undefined;
  bandwidth: TokenBucket | undefined;
};

/**
 * Validates the options and applies the defaults.
 * @throws {TypeError} naming the first invalid option.
 */
export function resolveOptions(options: UploaderOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) invalidOption('options', 'an object', options);
  const { client, bucket } = options;
  if (typeof client !== 'object' || client === null || typeof client.send !== 'function') {
    invalidOption('client', 'an S3Client', client);
  }
  if (typeof bucket !== 'string' || bucket.length === 0)
    invalidOption('bucket', 'a non-empty string', bucket);
  const clock = options.clock ?? systemClock;
  if (typeof clock.now !== 'function' || typeof clock.sleep !== 'function') {
    invalidOption('clock', 'an object with now() and sleep()', clock);
  }
  const pathEncoding = options.pathEncoding ?? utf8PathEncoding;
  if (typeof pathEncoding?.toFs !== 'function' || typeof pathEncoding.fromFs !== 'function') {
    invalidOption('pathEncoding', 'an object with toFs and fromFs functions', pathEncoding);
  }
  const checksumMode = options.checksumMode;
  const bandwidth = options.bandwidth;
  if (bandwidth !== undefined) {
    if (typeof bandwidth?.take !== 'function' || typeof bandwidth.setRate !== 'function') {
      invalidOption('bandwidth', 'a token bucket from createTokenBucket()', bandwidth);
    }
    if (options.bandwidthLimitBytesPerSecond !== undefined) {
      invalidOption(
        'bandwidthLimitBytesPerSecond',
        'absent when `bandwidth` is given',
        options.bandwidthLimitBytesPerSecond,
      );
    }
  }
  if (checksumMode !== undefined && checksumMode !== 'when_supported' && checksumMode !== 'when_required') {
    invalidOption('checksumMode', `'when_supported' or 'when_required'`, checksumMode);
  }
  return {
    client,
    bucket,
    clock,
    objectSettings: objectSettings(options.objectSettings),
    multipartThresholdBytes: integerOption(
      'multipartThresholdBytes',
      options.multipartThresholdBytes ?? DEFAULT_MULTIPART_THRESHOLD_BYTES,
      0,
      MAX_SINGLE_PUT_BYTES,
    ),
    partSizeBytes: integerOption(
      'partSizeBytes',
      options.partSizeBytes ?? DEFAULT_PART_SIZE_BYTES,
      MIN_PART_BYTES,
      MAX_PART_BYTES,
    ),
    concurrency: integerOption('concurrency', options.concurrency ?? DEFAULT_CONCURRENCY, 1, 64),
    checksumMode,
    bandwidth,
    pathEncoding,
    bandwidthLimitBytesPerSecond: integerOption(
      'bandwidthLimitBytesPerSecond',
      options.bandwidthLimitBytesPerSecond ?? 0,
      0,
    ),
    staleUploadAgeMs: integerOption(
      'staleUploadAgeMs',
      options.staleUploadAgeMs ?? DEFAULT_STALE_UPLOAD_AGE_MS,
      0,
    ),
  };
}

function objectSettings(settings: ObjectSettings | undefined): ObjectSettings {
  if (settings === undefined) return {};
  if (typeof settings !== 'object' || settings === null)
    invalidOption('objectSettings', 'an object', settings);
  const { storageClass, serverSideEncryption, sseKmsKeyId, bucketKeyEnabled } = settings;
  if (storageClass !== undefined && (typeof storageClass !== 'string' || !/^[A-Z_]+$/.test(storageClass))) {
    invalidOption('objectSettings.storageClass', 'an S3 storage class such as STANDARD_IA', storageClass);
  }
  if (
    serverSideEncryption !== undefined &&
    serverSideEncryption !== 'AES256' &&
    serverSideEncryption !== 'aws:kms'
  ) {
    invalidOption('objectSettings.serverSideEncryption', `'AES256' or 'aws:kms'`, serverSideEncryption);
  }
  if (sseKmsKeyId !== undefined && (typeof sseKmsKeyId !== 'string' || serverSideEncryption !== 'aws:kms')) {
    invalidOption(
      'objectSettings.sseKmsKeyId',
      `a key id given with serverSideEncryption 'aws:kms'`,
      sseKmsKeyId,
    );
  }
  if (
    bucketKeyEnabled !== undefined &&
    (typeof bucketKeyEnabled !== 'boolean' || serverSideEncryption !== 'aws:kms')
  ) {
    invalidOption(
      'objectSettings.bucketKeyEnabled',
      `a boolean given with serverSideEncryption 'aws:kms'`,
      bucketKeyEnabled,
    );
  }
  return { ...settings };
}

/** Throws the house-style TypeError for an invalid option: names the option and the offending value. */
export function invalidOption(name: string, expected: string, value: unknown): never {
  throw new TypeError(`Expected \`${name}\` to be ${expected}, got ${formatValue(value)}`);
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value !== 'object' || value === null) return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** An integer within [min, max], or the TypeError naming it. */
export function integerOption(
  name: string,
  value: unknown,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `between ${min} and ${max}`;
    invalidOption(name, `an integer ${range}`, value);
  }
  return value;
}
