import type { Classification } from './categories.js';
import { CATEGORIES } from './categories.js';

/** S3's object key limit, in UTF-8 bytes. */
export const MAX_OBJECT_KEY_BYTES = 1024;
/** S3's largest object: 5 TiB. */
export const MAX_OBJECT_BYTES = 5 * 1024 ** 4;

/**
 * Why S3 would reject `key`, or undefined when it is acceptable. Rejected: empty keys, keys over 1024 UTF-8 bytes,
 * unpaired surrogates (not encodable as UTF-8), and control characters (S3's XML listings cannot carry them).
 */
export function objectKeyProblem(key: string): string | undefined {
  if (key.length === 0) return 'the key is empty';
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > MAX_OBJECT_KEY_BYTES)
    return `the key is ${bytes} UTF-8 bytes, over S3's ${MAX_OBJECT_KEY_BYTES}`;
  if (!key.isWellFormed()) return 'the key contains an unpaired surrogate (not valid UTF-8)';
  // eslint-disable-next-line no-control-regex
  const control = /[\u0000-\u001f\u007f]/.exec(key);
  if (control) {
    return `the key contains the control character U+${control[0].charCodeAt(0).toString(16).padStart(4, '0')}`;
  }
  return undefined;
}

/**
 * A permanent classification when an object with this key and size could never be stored in S3, else undefined.
 * Checked before an upload starts, so a bad name fails fast instead of after the bytes were sent.
 */
export function classifyObjectLimits(key: string, size: number): Classification | undefined {
  const problem = objectKeyProblem(key);
  if (problem !== undefined) {
    const { kind, scope } = CATEGORIES['invalid-object-key'];
    return {
      kind,
      scope,
      category: 'invalid-object-key',
      message: `Invalid object key ${JSON.stringify(key)}: ${problem}`,
    };
  }
  if (size > MAX_OBJECT_BYTES) {
    const { kind, scope } = CATEGORIES['file-too-large'];
    return {
      kind,
      scope,
      category: 'file-too-large',
      message: `File too large: ${size} bytes, over S3's 5 TiB limit`,
    };
  }
  return undefined;
}
