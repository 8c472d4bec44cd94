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

/**
 * `upload()` stopped between parts because the request's `shouldPause` gave a reason: no new part started, the
 * parts in flight finished and were reported through `onStateChange`, and the multipart upload is kept (resume it
 * with the last state). Not a failure: nothing is wrong with the file or the destination.
 */
export class UploadPausedError extends Error {
  override readonly name = 'UploadPausedError';
  readonly key: string;
  readonly reason: string;

  constructor(key: string, reason: string) {
    super(`Upload of ${JSON.stringify(key)} paused: ${reason}`);
    this.key = key;
    this.reason = reason;
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

/** An S3 request failed: classified from the SDK's error. An UploadError passes through unchanged. */
export function requestFailed(
  operation: string,
  key: string | undefined,
  error: unknown,
  partNumber?: number,
): UploadError {
  if (error instanceof UploadError) return error;
  const classification = classify(error);
  const what = `${operation}${partNumber === undefined ? '' : ` of part ${partNumber}`}`;
  const target = key === undefined ? '' : ` for ${JSON.stringify(key)}`;
  return new UploadError('request-failed', `${what}${target} failed: ${classification.message}`, {
    cause: error,
    classification,
    key,
    operation,
    partNumber,
    attempt: sdkAttempts(error),
  });
}

/** The file changed under the upload: temporary and about this file only, so the caller retries later. */
export function fileChanged(key: string, path: string, detail: string): UploadError {
  const message = `File changed while uploading: ${path} (${detail})`;
  const classification: Classification = { kind: 'temporary', category: 'unknown', scope: 'file', message };
  return new UploadError('file-changed', message, { cause: new Error(message), classification, key });
}

/** S3 could never store this key or size (from `classifyObjectLimits`). */
export function invalidObject(key: string, classification: Classification): UploadError {
  return new UploadError('invalid-object', classification.message, {
    cause: new Error(classification.message),
    classification,
    key,
  });
}

/** S3 holds something other than what was sent. */
export function verificationFailed(key: string, problem: string): UploadError {
  const message = `Verification of ${JSON.stringify(key)} failed: ${problem}`;
  // The bytes S3 holds are not the ones sent: sending them again is the remedy, so temporary.
  return new UploadError('verification-failed', message, {
    cause: new Error(message),
    classification: { kind: 'temporary', category: 'server-error', scope: 'service', message },
    key,
  });
}

/** Normalises whatever a public method caught: a fired signal always reads as `aborted`. */
export function asUploadError(
  error: unknown,
  key: string | undefined,
  signal: AbortSignal | undefined,
): UploadError {
  if (signal?.aborted) {
    if (error instanceof UploadError && error.code === 'aborted') return error;
    const message = `Upload${key === undefined ? '' : ` of ${JSON.stringify(key)}`} cancelled`;
    return new UploadError('aborted', message, {
      cause: error,
      classification: abortedClassification(message),
      key,
    });
  }
  if (error instanceof UploadError) return error;
  const classification = classify(error);
  return new UploadError(
    'request-failed',
    `Upload of ${JSON.stringify(key)} failed: ${classification.message}`,
    {
      cause: error,
      classification,
      key,
    },
  );
}
