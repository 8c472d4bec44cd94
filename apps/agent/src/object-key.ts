import { basename, relative, sep } from 'node:path';
import { encodeFileName, hasEscapedBytes } from './file-names.js';

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The calendar date (`YYYY-MM-DD`) of `epochMs` in `timeZone` (`'local'` = the process's zone, i.e. TZ). */
export function dateIn(epochMs: number, timeZone: string): string {
  return localParts(epochMs, timeZone).date;
}

/** A wall-clock reading: what a clock in some time zone shows at an instant (month 1-12). */
export interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** What `formatter` shows at `epochMs`, read from its parts (Intl: slow, tens of microseconds a call). */
function formattedWallClock(formatter: Intl.DateTimeFormat, epochMs: number): WallClock {
  const parts: Record<string, number> = {};
  for (const part of formatter.formatToParts(epochMs)) parts[part.type] = Number(part.value);
  return {
    year: parts['year'] ?? 1970,
    month: parts['month'] ?? 1,
    day: parts['day'] ?? 1,
    hour: parts['hour'] ?? 0,
    minute: parts['minute'] ?? 0,
    second: parts['second'] ?? 0,
  };
}

/** The UTC fields of an instant: the wall clock of a zone, given the instant shifted by the zone's offset. */
function utcFields(ms: number): WallClock {
  const d = new Date(ms);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
  };
}

/** The instant whose UTC fields are `w` (years below 100 included, which `Date.UTC` would map to 19xx). */
function utcInstant(w: WallClock): number {
  const d = new Date(0);
  d.setUTCFullYear(w.year, w.month - 1, w.day);
  d.setUTCHours(w.hour, w.minute, w.second, 0);
  return d.getTime();
}

// A zone's offset from UTC is constant within a slot of a quarter of an hour: every offset in use is a multiple of
// 15 minutes, and clocks change on such boundaries. An offset is cached per slot only once Intl showed the same
// offset at both ends of it, so a slot with a change in it is never cached.
const SLOT_MS = 15 * 60_000;
const SLOTS_KEPT = 256;
const offsets = new Map<string, Map<number, number>>();

function offsetAt(formatter: Intl.DateTimeFormat, epochMs: number): number {
  const second = Math.floor(epochMs / 1000) * 1000;
  return utcInstant(formattedWallClock(formatter, second)) - second;
}

/**
 * What a clock in `timeZone` (`'local'` = the process's zone) shows at `epochMs`: the one reader of wall clocks.
 * It runs for every upload (object keys, manifests), so Intl, which is slow, is asked once per zone and quarter of
 * an hour; `'local'` reads `Date`'s own local fields (the same zone rules).
 */
export function wallClockIn(epochMs: number, timeZone: string): WallClock {
  if (timeZone === 'local') {
    const d = new Date(epochMs);
    return {
      year: d.getFullYear(),
      month: d.getMonth() + 1,
      day: d.getDate(),
      hour: d.getHours(),
      minute: d.getMinutes(),
      second: d.getSeconds(),
    };
  }
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(timeZone, formatter);
  }
  let slots = offsets.get(timeZone);
  if (!slots) offsets.set(timeZone, (slots = new Map()));
  const slot = Math.floor(epochMs / SLOT_MS);
  let offset = slots.get(slot);
  if (offset === undefined) {
    const first = offsetAt(formatter, slot * SLOT_MS);
    if (first !== offsetAt(formatter, (slot + 1) * SLOT_MS - 1))
      return formattedWallClock(formatter, epochMs);
    if (slots.size >= SLOTS_KEPT) slots.clear();
    slots.set(slot, (offset = first));
  }
  return utcFields(epochMs + offset);
}

/** The date and the minutes since midnight of `epochMs` in `timeZone`. */
export function localParts(epochMs: number, timeZone: string): { date: string; minuteOfDay: number } {
  const w = wallClockIn(epochMs, timeZone);
  const two = (n: number) => String(n).padStart(2, '0');
  return {
    date: `${String(w.year).padStart(4, '0')}-${two(w.month)}-${two(w.day)}`,
    minuteOfDay: w.hour * 60 + w.minute,
  };
}

/** What an object key is made of. */
export interface ObjectKeyInput {
  vehicleId: string;
  source: string;
  /** The configured log directory (absolute). */
  directory: string;
  /** The file (absolute, inside `directory`). */
  filePath: string;
  /** The file's modification time: a file uploaded days late still lands under the day it was written. */
  mtimeMs: number;
  /** `'local'` or an IANA zone name (`upload.timezone`). */
  timeZone: string;
}

/**
 * `{vehicle_id}/{YYYY-MM-DD}/{source}/{path relative to the directory}`, `/`-separated, the date being the mtime's
 * date in `timeZone`. ROS run folders keep their structure. The key is not checked against S3's limits here:
 * the pipeline does that through `classifyObjectLimits`, so a bad name is a permanent failure, not a crash.
 */
export function buildObjectKey(input: ObjectKeyInput): string {
  const rel = relative(input.directory, input.filePath).split(sep).join('/');
  return `${input.vehicleId}/${dateIn(input.mtimeMs, input.timeZone)}/${input.source}/${encodeKeyPath(rel)}`;
}

/** The `tvm-name-encoding` metadata value of an object whose key part was written by {@link encodeKeyPath}. */
export const PERCENT_BYTES = 'percent-bytes';
/** Object metadata (`x-amz-meta-*`) saying how the key's relative path was encoded. */
export const NAME_ENCODING_METADATA_KEY = 'tvm-name-encoding';
/** Object metadata holding the original file name's bytes (the last component), in base64. */
export const NAME_BYTES_METADATA_KEY = 'tvm-name-bytes';

/**
 * The key form of a relative path (in the agent's string form, see `file-names.ts`). S3 keys must be valid UTF-8:
 * - a path that is valid UTF-8 is kept exactly as it is (the old daemon's keys do not change, `%` included);
 * - a path holding bytes that are not valid UTF-8 is written with each such byte as `%XX` (upper-case hex) and
 *   each `%` as `%25`; everything else stays as it is. {@link decodeKeyPath} turns it back into the bytes, and the
 *   object says which case applies through {@link keyPathMetadata}.
 * An escape that stands for no byte (a hand-edited entry) is left in place, so the key's limits check refuses it.
 */
export function encodeKeyPath(rel: string): string {
  if (!hasEscapedBytes(rel)) return rel;
  return rel.replace(/%|[\udc80-\udcff]/gu, (char) =>
    char === '%' ? '%25' : `%${(char.charCodeAt(0) - 0xdc00).toString(16).toUpperCase()}`,
  );
}

/**
 * The original bytes of a key's relative path: `%XX` decoded when the object's `tvm-name-encoding` metadata is
 * `percent-bytes`, the key's own UTF-8 bytes otherwise. The inverse of {@link encodeKeyPath}.
 * @throws {TypeError} for an unknown encoding, or a `%` not followed by two hex digits in a percent-bytes key
 */
export function decodeKeyPath(keyPath: string, encoding?: string): Buffer {
  if (encoding === undefined) return Buffer.from(keyPath, 'utf8');
  if (encoding !== PERCENT_BYTES) throw new TypeError(`Unknown key encoding ${JSON.stringify(encoding)}`);
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = keyPath.indexOf('%'); i >= 0; i = keyPath.indexOf('%', start)) {
    const hex = keyPath.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) {
      throw new TypeError(
        `${JSON.stringify(keyPath)} is not percent-bytes: "%" at ${i} is not followed by two hex digits`,
      );
    }
    parts.push(Buffer.from(keyPath.slice(start, i), 'utf8'), Buffer.from([parseInt(hex, 16)]));
    start = i + 3;
  }
  parts.push(Buffer.from(keyPath.slice(start), 'utf8'));
  return Buffer.concat(parts);
}

/**
 * The metadata an object of `filePath` carries: none for a valid UTF-8 path; for one holding other bytes,
 * `tvm-name-encoding: percent-bytes` and `tvm-name-bytes`, the base64 of the file name's bytes.
 */
export function keyPathMetadata(filePath: string): Record<string, string> {
  if (!hasEscapedBytes(filePath)) return {};
  const name = basename(filePath);
  const bytes = encodeFileName(name);
  return {
    [NAME_ENCODING_METADATA_KEY]: PERCENT_BYTES,
    [NAME_BYTES_METADATA_KEY]: Buffer.from(bytes).toString('base64'),
  };
}

/** The suffix a compressed object's key gets: exactly `.gz` (gzip) or `.zst` (zstd). */
export const COMPRESSED_KEY_SUFFIX = { gzip: '.gz', zstd: '.zst' } as const;

/** The key of `key`'s object compressed with `algorithm`: the suffix appended, whatever the key ends in. */
export function compressedObjectKey(key: string, algorithm: keyof typeof COMPRESSED_KEY_SUFFIX): string {
  return `${key}${COMPRESSED_KEY_SUFFIX[algorithm]}`;
}
