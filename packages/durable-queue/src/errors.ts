/**
 * What went wrong, as a closed set callers branch on:
 * - `LOCKED`: another live process holds the state directory's lock.
 * - `INVALID_ENTRY`: an entry or request given to the API is malformed (no `filepath`, a non-string path, a bad field).
 * - `WRITE_FAILED`: a durable write failed (disk full, read-only filesystem); the change stays in memory and is
 *   written again by the next commit.
 * - `READ_FAILED`: a state file exists but cannot be read (permissions); corrupt content is never this error.
 * - `CLOSED`: the store was used after `close()`.
 */
export type QueueErrorCode = 'LOCKED' | 'INVALID_ENTRY' | 'WRITE_FAILED' | 'READ_FAILED' | 'CLOSED';

/** The one error class of `@tvm/durable-queue`. Branch on `code`, never on the message. */
export class QueueError extends Error {
  override readonly name = 'QueueError';
  /** Which failure this is. */
  readonly code: QueueErrorCode;
  /** For `LOCKED`: the pid that holds the lock. */
  readonly holderPid?: number;

  constructor(code: QueueErrorCode, message: string, options: { cause?: unknown; holderPid?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options.holderPid !== undefined) this.holderPid = options.holderPid;
  }
}

/** Throws the house-style TypeError for an invalid option: names the option and the offending value. */
export function invalidOption(name: string, expected: string, value: unknown): never {
  throw new TypeError(`Expected \`${name}\` to be ${expected}, got ${formatValue(value)}`);
}

/** Renders a value for an error message without ever throwing. */
export function formatValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) {
    return String(value);
  }
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** The message of any thrown value. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
