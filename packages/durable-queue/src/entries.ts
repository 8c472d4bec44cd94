import { QueueError, formatValue } from './errors.js';

/** The last error of a queued file, as `@tvm/error-classification` categorised it. */
export interface LastError {
  readonly category: string;
  readonly message: string;
  /** When it happened (epoch ms), if known. */
  readonly at?: number;
}

/** One completed part of a resumable multipart upload. */
export interface MultipartPart {
  readonly partNumber: number;
  readonly etag: string;
  readonly checksum?: string;
  /** Bytes in the part; optional because `partSize` implies it for every part but the last. */
  readonly size?: number;
}

/** The persisted state of a resumable multipart upload: enough to resume after a restart. */
export interface MultipartState {
  readonly uploadId: string;
  readonly key: string;
  /** Bytes per part (the last part may be shorter). */
  readonly partSize: number;
  readonly parts: readonly MultipartPart[];
  /** When the upload was created (epoch ms). */
  readonly startedAt: number;
  readonly [extra: string]: unknown;
}

/** A file waiting for upload, with its retry state. Unknown fields are kept as they are. */
export interface QueueEntry {
  /** The absolute path; the entry's identity in the queue. */
  readonly filepath: string;
  /** Size in bytes when detected, if known. */
  readonly size?: number;
  /** Modification time when detected (epoch ms), if known. */
  readonly mtimeMs?: number;
  /** The configured log directory's `source` name, if known. */
  readonly source?: string;
  /** When the file was queued (epoch ms). Default: the time the entry was added or loaded. */
  readonly detectedAt: number;
  /** Failed upload attempts so far. Default 0. */
  readonly attempts: number;
  /** Not to be tried before this time (epoch ms). Default 0 (due now). */
  readonly nextAttemptAt: number;
  readonly lastError?: LastError;
  readonly multipart?: MultipartState;
  readonly [extra: string]: unknown;
}

/** What `queue.add()` accepts: `filepath` is required, everything else has a default. */
export interface QueueEntryInput {
  filepath: string;
  size?: number;
  mtimeMs?: number;
  source?: string;
  detectedAt?: number;
  attempts?: number;
  nextAttemptAt?: number;
  lastError?: LastError;
  multipart?: MultipartState;
  [extra: string]: unknown;
}

/**
 * What `queue.update()` accepts: the fields to change. `undefined` removes an optional field (`lastError`,
 * `multipart`, `size`, ...) and is ignored for `detectedAt`, `attempts` and `nextAttemptAt`.
 */
export interface QueueEntryPatch {
  size?: number | undefined;
  mtimeMs?: number | undefined;
  source?: string | undefined;
  detectedAt?: number | undefined;
  attempts?: number | undefined;
  nextAttemptAt?: number | undefined;
  lastError?: LastError | undefined;
  multipart?: MultipartState | undefined;
  [extra: string]: unknown;
}

/** A file on the dead-letter list: removed from the queue by a permanent error or an exhausted retry budget. */
export interface FailedEntry {
  readonly filepath: string;
  readonly size?: number;
  readonly mtimeMs?: number;
  readonly source?: string;
  readonly detectedAt?: number;
  /** Attempts made before giving up. */
  readonly attempts: number;
  /** When it was given up on (epoch ms). */
  readonly failedAt: number;
  /** The error category (`@tvm/error-classification`), e.g. `file-not-found`, `access-denied`; the last temporary category when retries ran out. */
  readonly category: string;
  readonly message: string;
  /** Kept from the queue entry so an abandoned multipart upload can be resumed or aborted. */
  readonly multipart?: MultipartState;
  readonly [extra: string]: unknown;
}

/** What `failed.add()` accepts. Fields missing here are taken from the queue entry of the same path, if any. */
export interface FailedEntryInput {
  filepath: string;
  category: string;
  message: string;
  attempts?: number;
  /** Default: `clock.now()`. */
  failedAt?: number;
  [extra: string]: unknown;
}

/**
 * A file version by path: what `registry.get()` / `has()` look up. Path, size and mtime; device and inode also
 * recognise it after a rename. Versions are compared by `sameVersion()`.
 */
export interface FileRef {
  readonly filepath: string;
  readonly size: number;
  readonly mtimeMs: number;
  readonly dev?: number;
  readonly ino?: number;
}

/** A file that was uploaded. */
export interface RegistryEntry extends FileRef {
  /** Set on records converted from the old daemon's registry, whose mtime was float seconds (see `sameVersion()`). */
  readonly legacyMtime?: true;
  /** The object key it was uploaded to (absent for entries imported from the old daemon, which did not record it). */
  readonly key?: string;
  /** When the upload completed (epoch ms); the after-upload deletion policy counts from here. */
  readonly uploadedAt: number;
  readonly [extra: string]: unknown;
}

/** What `registry.mark()` accepts. */
export interface RegistryMarkInput {
  filepath: string;
  size: number;
  mtimeMs: number;
  dev?: number;
  ino?: number;
  key: string;
  /** Default: `clock.now()`. */
  uploadedAt?: number;
  [extra: string]: unknown;
}

/**
 * How a malformed field is handled: `strict` (API input) throws `INVALID_ENTRY`; `lenient` (a file on disk)
 * drops the field and records why, so one bad field never costs a pending upload.
 */
export interface Strictness {
  readonly strict: boolean;
  readonly problems: string[];
}

function fail(strictness: Strictness, message: string): void {
  if (strictness.strict) throw new QueueError('INVALID_ENTRY', message);
  strictness.problems.push(message);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Validates `filepath`, the one field nothing can default. */
export function requireFilepath(value: unknown, what = 'entry'): string {
  if (!isRecord(value)) {
    throw new QueueError(
      'INVALID_ENTRY',
      `Invalid ${what}: expected an object with \`filepath\`, got ${formatValue(value)}`,
    );
  }
  const filepath = value['filepath'];
  if (typeof filepath !== 'string' || filepath.length === 0) {
    throw new QueueError(
      'INVALID_ENTRY',
      `Invalid ${what}: \`filepath\` must be a non-empty string, got ${formatValue(filepath)}`,
    );
  }
  return filepath;
}

/**
 * Reads a timestamp: epoch ms, or a date string (the old daemon wrote ISO local times such as
 * `2025-10-14T15:30:00.123456`, which `Date.parse` reads as local time).
 */
export function parseTime(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.trim() !== '') {
    const parsed = Date.parse(value);
    if (Number.isFinite(parsed)) return parsed;
  }
  return undefined;
}

const isNonNegative = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

type Out = Record<string, unknown>;

/** Copies the fields normalisation does not own, so unknown fields survive every rewrite. */
function copyExtras(out: Out, raw: Record<string, unknown>, known: ReadonlySet<string>): void {
  for (const key of Object.keys(raw)) {
    if (known.has(key) || raw[key] === undefined) continue;
    // defineProperty, not assignment: a hand-edited `"__proto__"` field must stay a field, not become a prototype.
    Object.defineProperty(out, key, {
      value: raw[key],
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
}

function optionalNumber(
  out: Out,
  raw: Record<string, unknown>,
  key: string,
  s: Strictness,
  where: string,
): void {
  const value = raw[key];
  if (value === undefined || value === null) return;
  if (isNonNegative(value)) out[key] = value;
  else fail(s, `${where}: \`${key}\` must be a non-negative number, got ${formatValue(value)}`);
}

function optionalString(
  out: Out,
  raw: Record<string, unknown>,
  key: string,
  s: Strictness,
  where: string,
): void {
  const value = raw[key];
  if (value === undefined || value === null) return;
  if (typeof value === 'string') out[key] = value;
  else fail(s, `${where}: \`${key}\` must be a string, got ${formatValue(value)}`);
}

function normaliseLastError(value: unknown, s: Strictness, where: string): LastError | undefined {
  if (value === undefined || value === null) return undefined;
  if (isRecord(value) && typeof value['category'] === 'string') {
    const message = value['message'];
    const at = parseTime(value['at']);
    const out: Out = {
      ...value,
      category: value['category'],
      message: typeof message === 'string' ? message : '',
    };
    if (at === undefined) delete out['at'];
    else out['at'] = at;
    return Object.freeze(out) as unknown as LastError;
  }
  fail(s, `${where}: \`lastError\` must be an object with a string \`category\`, got ${formatValue(value)}`);
  return undefined;
}

function normaliseMultipart(value: unknown, s: Strictness, where: string): MultipartState | undefined {
  if (value === undefined || value === null) return undefined;
  const bad = (why: string): undefined => {
    fail(s, `${where}: \`multipart\` ${why}, got ${formatValue(value)}`);
    return undefined;
  };
  if (!isRecord(value)) return bad('must be an object');
  const { uploadId, key, partSize, parts } = value;
  if (typeof uploadId !== 'string' || uploadId === '') return bad('needs a string `uploadId`');
  if (typeof key !== 'string' || key === '') return bad('needs a string `key`');
  if (!Number.isSafeInteger(partSize) || (partSize as number) <= 0)
    return bad('needs a positive integer `partSize`');
  const partList = parts ?? [];
  if (!Array.isArray(partList)) return bad('needs a `parts` array');
  const frozenParts: MultipartPart[] = [];
  for (const part of partList) {
    if (
      !isRecord(part) ||
      !Number.isSafeInteger(part['partNumber']) ||
      (part['partNumber'] as number) < 1 ||
      typeof part['etag'] !== 'string' ||
      (part['size'] !== undefined && !isNonNegative(part['size'])) ||
      (part['checksum'] !== undefined && typeof part['checksum'] !== 'string')
    ) {
      return bad(
        'has a part without a positive `partNumber` and a string `etag` (or with a negative `size`)',
      );
    }
    frozenParts.push(Object.freeze({ ...part }) as unknown as MultipartPart);
  }
  const startedAt = parseTime(value['startedAt']) ?? 0;
  return Object.freeze({
    ...value,
    parts: Object.freeze(frozenParts),
    startedAt,
  }) as unknown as MultipartState;
}

/** The queue entry fields this package interprets; every other field is kept as it is. */
export const QUEUE_KNOWN: ReadonlySet<string> = new Set([
  'filepath',
  'size',
  'mtimeMs',
  'source',
  'detectedAt',
  'detected_at',
  'attempts',
  'nextAttemptAt',
  'lastError',
  'multipart',
]);

/**
 * Builds a frozen queue entry from API input or a parsed file entry, applying defaults. The old daemon's
 * `detected_at` becomes `detectedAt`. Throws `INVALID_ENTRY` without a usable `filepath`.
 */
export function normaliseQueueEntry(raw: unknown, now: number, s: Strictness): QueueEntry {
  const filepath = requireFilepath(raw);
  const input = raw as Record<string, unknown>;
  const where = `queue entry ${JSON.stringify(filepath)}`;
  const out: Out = { filepath };
  optionalNumber(out, input, 'size', s, where);
  optionalNumber(out, input, 'mtimeMs', s, where);
  optionalString(out, input, 'source', s, where);
  const detected = input['detectedAt'] ?? input['detected_at'];
  const detectedAt = parseTime(detected);
  if (detected !== undefined && detected !== null && detectedAt === undefined) {
    fail(s, `${where}: \`detectedAt\` must be epoch ms or a date string, got ${formatValue(detected)}`);
  }
  out['detectedAt'] = detectedAt ?? now;
  const attempts = input['attempts'];
  if (attempts !== undefined && attempts !== null && !isCount(attempts)) {
    fail(s, `${where}: \`attempts\` must be a non-negative integer, got ${formatValue(attempts)}`);
  }
  out['attempts'] = isCount(attempts) ? attempts : 0;
  const next = input['nextAttemptAt'];
  const nextAttemptAt = parseTime(next);
  if (next !== undefined && next !== null && nextAttemptAt === undefined) {
    fail(s, `${where}: \`nextAttemptAt\` must be epoch ms, got ${formatValue(next)}`);
  }
  out['nextAttemptAt'] = nextAttemptAt ?? 0;
  const lastError = normaliseLastError(input['lastError'], s, where);
  if (lastError) out['lastError'] = lastError;
  const multipart = normaliseMultipart(input['multipart'], s, where);
  if (multipart) out['multipart'] = multipart;
  copyExtras(out, input, QUEUE_KNOWN);
  return Object.freeze(out) as QueueEntry;
}

const FAILED_KNOWN = new Set([
  'filepath',
  'size',
  'mtimeMs',
  'source',
  'detectedAt',
  'detected_at',
  'attempts',
  'failedAt',
  'category',
  'message',
  'multipart',
]);

/** Builds a frozen dead-letter entry. Throws `INVALID_ENTRY` without a usable `filepath`. */
export function normaliseFailedEntry(raw: unknown, now: number, s: Strictness): FailedEntry {
  const filepath = requireFilepath(raw, 'failed entry');
  const input = raw as Record<string, unknown>;
  const where = `failed entry ${JSON.stringify(filepath)}`;
  const out: Out = { filepath };
  optionalNumber(out, input, 'size', s, where);
  optionalNumber(out, input, 'mtimeMs', s, where);
  optionalString(out, input, 'source', s, where);
  const detectedAt = parseTime(input['detectedAt'] ?? input['detected_at']);
  if (detectedAt !== undefined) out['detectedAt'] = detectedAt;
  const attempts = input['attempts'];
  if (attempts !== undefined && attempts !== null && !isCount(attempts)) {
    fail(s, `${where}: \`attempts\` must be a non-negative integer, got ${formatValue(attempts)}`);
  }
  out['attempts'] = isCount(attempts) ? attempts : 0;
  out['failedAt'] = parseTime(input['failedAt']) ?? now;
  const category = input['category'];
  if (typeof category !== 'string' || category === '') {
    fail(s, `${where}: \`category\` must be a non-empty string, got ${formatValue(category)}`);
  }
  out['category'] = typeof category === 'string' && category !== '' ? category : 'unknown';
  const message = input['message'];
  if (message !== undefined && typeof message !== 'string') {
    fail(s, `${where}: \`message\` must be a string, got ${formatValue(message)}`);
  }
  out['message'] = typeof message === 'string' ? message : '';
  const multipart = normaliseMultipart(input['multipart'], { strict: false, problems: s.problems }, where);
  if (multipart) out['multipart'] = multipart;
  copyExtras(out, input, FAILED_KNOWN);
  return Object.freeze(out) as FailedEntry;
}

const REGISTRY_KNOWN = new Set(['filepath', 'size', 'mtimeMs', 'dev', 'ino', 'key', 'uploadedAt']);

/** Builds a frozen registry entry. Throws `INVALID_ENTRY` when the identity (path, size, mtime) is incomplete. */
export function normaliseRegistryEntry(raw: unknown, now: number, s: Strictness): RegistryEntry {
  const filepath = requireFilepath(raw, 'registry entry');
  const input = raw as Record<string, unknown>;
  const where = `registry entry ${JSON.stringify(filepath)}`;
  const size = input['size'];
  const mtimeMs = input['mtimeMs'];
  if (!isNonNegative(size) || !isNonNegative(mtimeMs)) {
    throw new QueueError(
      'INVALID_ENTRY',
      `Invalid ${where}: \`size\` and \`mtimeMs\` must be non-negative numbers, got ${formatValue(size)} and ${formatValue(mtimeMs)}`,
    );
  }
  const out: Out = { filepath, size, mtimeMs };
  optionalNumber(out, input, 'dev', s, where);
  optionalNumber(out, input, 'ino', s, where);
  optionalString(out, input, 'key', s, where);
  out['uploadedAt'] = parseTime(input['uploadedAt']) ?? now;
  copyExtras(out, input, REGISTRY_KNOWN);
  return Object.freeze(out) as RegistryEntry;
}

/** The registry's JSON key, the old daemon's `<path>::<size>::<mtime seconds>`. */
export function identityKey(identity: FileRef): string {
  return `${identity.filepath}::${identity.size}::${identity.mtimeMs / 1000}`;
}

const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function canonicalMultipart(value: Record<string, unknown>): boolean {
  const { uploadId, key, partSize, parts, startedAt } = value;
  if (typeof uploadId !== 'string' || uploadId === '' || typeof key !== 'string' || key === '') return false;
  if (
    !Number.isSafeInteger(partSize) ||
    (partSize as number) <= 0 ||
    !isTime(startedAt) ||
    !Array.isArray(parts)
  ) {
    return false;
  }
  for (const part of parts as unknown[]) {
    if (
      !isRecord(part) ||
      !Number.isSafeInteger(part['partNumber']) ||
      (part['partNumber'] as number) < 1 ||
      typeof part['etag'] !== 'string' ||
      (part['size'] !== undefined && !isNonNegative(part['size'])) ||
      (part['checksum'] !== undefined && typeof part['checksum'] !== 'string')
    ) {
      return false;
    }
  }
  return true;
}

/**
 * The fast path of loading: a parsed entry already in this package's written form is frozen as it is, with no
 * copy. Opening 100,000 entries then costs one `JSON.parse` and a check per entry, and no second set of objects.
 * Returns `undefined` for anything else, which goes through `normaliseQueueEntry()`.
 */
export function adoptCanonicalQueueEntry(raw: unknown): QueueEntry | undefined {
  if (!isRecord(raw)) return undefined;
  const { filepath, size, mtimeMs, source, detectedAt, attempts, nextAttemptAt, lastError, multipart } = raw;
  if (typeof filepath !== 'string' || filepath === '') return undefined;
  if ((size !== undefined && !isNonNegative(size)) || (mtimeMs !== undefined && !isNonNegative(mtimeMs)))
    return undefined;
  if (source !== undefined && typeof source !== 'string') return undefined;
  if (!isTime(detectedAt) || !isCount(attempts) || !isTime(nextAttemptAt) || 'detected_at' in raw)
    return undefined;
  if (lastError !== undefined) {
    if (
      !isRecord(lastError) ||
      typeof lastError['category'] !== 'string' ||
      typeof lastError['message'] !== 'string'
    ) {
      return undefined;
    }
    if (lastError['at'] !== undefined && !isTime(lastError['at'])) return undefined;
  }
  if (multipart !== undefined && !(isRecord(multipart) && canonicalMultipart(multipart))) return undefined;
  if (lastError !== undefined) Object.freeze(lastError);
  if (multipart !== undefined) {
    const m = multipart as { parts: object[] };
    for (const part of m.parts) Object.freeze(part);
    Object.freeze(m.parts);
    Object.freeze(m);
  }
  return Object.freeze(raw) as QueueEntry;
}
