import { classify, type Classification } from '@tvm/error-classification';

/**
 * Why an upload failed. Callers branch on this, never on the message:
 * - `invalid-object`: S3 could never store this key or size (checked before any byte is sent);
 * - `file-unreadable`: the local file could not be opened or read (deleted, permissions, I/O error);
 * - `file-changed`: the file's size or mtime changed while it was being uploaded; nothing was reported as uploaded;
 * - `request-failed`: an S3 request failed (network, timeout, throttling, credentials, bucket...);
 * - `verification-failed`: the object S3 holds after the upload is not the file that was sent;
 * - `state-callback-failed`: the caller's `onStateChange` threw, so resume state could not be kept;
 * - `aborted`: the caller's AbortSignal fired.
 */
export type UploadErrorCode =
  | 'invalid-object'
  | 'file-unreadable'
  | 'file-changed'
  | 'request-failed'
  | 'verification-failed'
  | 'state-callback-failed'
  | 'aborted';

/** Details of an {@link UploadError}. */
export interface UploadErrorOptions {
  cause: unknown;
  /** The classification; computed with `classify(cause)` when omitted. */
  classification?: Classification;
  /** The object key the upload was for; undefined for bucket-level calls. */
  key?: string | undefined;
  /** The S3 operation that failed, e.g. `'UploadPart'`. */
  operation?: string | undefined;
  /** The part number, for a failed `UploadPart`. */
  partNumber?: number | undefined;
  /** How many times the SDK sent the failed request (its own short retries included). */
  attempt?: number | undefined;
}

/**
 * The one error this package rejects with. `classification` comes from `@tvm/error-classification`, so the caller's
 * retry decision (`decide(error, retries)`) reads it as is.
 */
export class UploadError extends Error {
  override readonly name = 'UploadError';
  readonly code: UploadErrorCode;
  readonly classification: Classification;
  readonly key: string | undefined;
  readonly operation: string | undefined;
  readonly partNumber: number | undefined;
  readonly attempt: number | undefined;

  constructor(code: UploadErrorCode, message: string, options: UploadErrorOptions) {
    super(message, { cause: options.cause });
    this.code = code;
    this.classification = options.classification ?? classify(options.cause);
    this.key = options.key;
    this.operation = options.operation;
    this.partNumber = options.partNumber;
    this.attempt = options.attempt;
  }
}

/** The classification of a cancellation, whatever the signal's reason was. */
export function abortedClassification(message: string): Classification {
  return { kind: 'temporary', category: 'aborted', scope: 'file', message };
}

/** `$metadata.attempts` of an SDK error: how many times the SDK sent the request. */
export function sdkAttempts(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const metadata = (error as { $metadata?: { attempts?: unknown } }).$metadata;
  return typeof metadata?.attempts === 'number' ? metadata.attempts : undefined;
}

/** The error's own code or name, e.g. `'NoSuchUpload'`; S3 error codes arrive as the SDK exception's name. */
export function errorName(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { name, Code } = error as { name?: unknown; Code?: unknown };
  if (typeof Code === 'string') return Code;
  return typeof name === 'string' ? name : undefined;
}

/** The HTTP status of an SDK error's response, when there was one. */
export function httpStatus(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const status = (error as { $metadata?: { httpStatusCode?: unknown } }).$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}
