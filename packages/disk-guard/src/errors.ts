/** What went wrong while measuring or deleting; callers branch on this, never on the message. */
export type DiskGuardErrorCode = 'DIRECTORY_UNAVAILABLE' | 'STATFS_FAILED' | 'UNLINK_FAILED';

/**
 * A failure of one file system operation. Disk-guard never throws these out of `usage()`, `plan()` or `apply()`:
 * it returns them in the result's `errors` (or `problems`) list so one bad file never stops a clean-up run.
 */
export class DiskGuardError extends Error {
  override readonly name = 'DiskGuardError';
  readonly code: DiskGuardErrorCode;
  /** The file or directory the operation was about. */
  readonly path: string;

  constructor(code: DiskGuardErrorCode, path: string, message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.code = code;
    this.path = path;
  }
}

/** Throws the house-style TypeError for an invalid option: names the option and the offending value. */
export function invalidOption(name: string, expected: string, value: unknown): never {
  throw new TypeError(`Expected \`${name}\` to be ${expected}, got ${formatValue(value)}`);
}

/** The errno code of a Node fs error (`ENOENT`), if there is one. */
export function errnoCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') {
    return error.code;
  }
  return undefined;
}

/** A one-line description of an unknown thrown value. */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function formatValue(value: unknown): string {
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
