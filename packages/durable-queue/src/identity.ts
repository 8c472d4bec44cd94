/**
 * One version of one file, as `fstat` sees it: the inode (`dev`, `ino`) and its content's `size` and `mtimeMs`.
 * The one identity the tvm-upload packages compare versions by; compare two with `sameVersion()`.
 */
export interface FileIdentity {
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
}

/**
 * Anything that may carry (part of) a `FileIdentity`: a `fs.Stats`, a queue, failed or registry entry. A record
 * converted from the old Python daemon's registry carries `legacyMtime: true` (see `sameVersion()`).
 */
export interface VersionLike {
  readonly dev?: number | undefined;
  readonly ino?: number | undefined;
  readonly size?: number | undefined;
  readonly mtimeMs?: number | undefined;
  readonly legacyMtime?: unknown;
}

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * Whether two records describe the same version of a file. The rule, the only one in tvm-upload:
 * - both must have a `size` and an `mtimeMs`, and the sizes must be equal (an unknown version is never the same);
 * - `dev` and `ino` are compared when both sides have both (a record without them, such as the old daemon's
 *   registry entries or a queue entry, cannot disagree on them); a file replaced by another one of the same size
 *   and mtime (a copy with `cp -p`) has another inode and is another version;
 * - `mtimeMs` must be exactly equal (Node's stat and this package's files keep the full float value), except
 *   when either side has `legacyMtime: true`: a registry record converted from the old daemon, which stored the
 *   mtime as float seconds, so that converting it to ms can land a fraction of a millisecond off. Then the mtimes
 *   are equal when they differ by less than 1 ms.
 */
export function sameVersion(a: VersionLike, b: VersionLike): boolean {
  if (!isNumber(a.size) || !isNumber(b.size) || a.size !== b.size) return false;
  if (!isNumber(a.mtimeMs) || !isNumber(b.mtimeMs)) return false;
  if (isNumber(a.dev) && isNumber(a.ino) && isNumber(b.dev) && isNumber(b.ino)) {
    if (a.dev !== b.dev || a.ino !== b.ino) return false;
  }
  if (a.legacyMtime === true || b.legacyMtime === true) return Math.abs(a.mtimeMs - b.mtimeMs) < 1;
  return a.mtimeMs === b.mtimeMs;
}

/** The identity of a `fs.Stats` (or anything with the four fields), as a plain frozen object. */
export function identityOf(stats: FileIdentity): FileIdentity {
  return Object.freeze({ dev: stats.dev, ino: stats.ino, size: stats.size, mtimeMs: stats.mtimeMs });
}
