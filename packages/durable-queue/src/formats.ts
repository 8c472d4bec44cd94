import {
  adoptCanonicalQueueEntry,
  identityKey,
  normaliseFailedEntry,
  normaliseQueueEntry,
  normaliseRegistryEntry,
  parseTime,
  type FailedEntry,
  type QueueEntry,
  type RegistryEntry,
  type Strictness,
} from './entries.js';
import { messageOf } from './errors.js';
import { SEPARATOR } from './runs.js';

/** The format version this package writes. */
export const FORMAT_VERSION = 2;

/** Content that is not a state file at all (truncated, garbage, wrong shape): set aside, fall back to `.bak`. */
export class CorruptFileError extends Error {
  override readonly name = 'CorruptFileError';
}

/** A state file's entries, what was wrong with some of them, and whether the file should be rewritten. */
export interface ParsedFile<T> {
  entries: T[];
  /** The same entries by path (queue and failed list), built while de-duplicating, for the store to adopt. */
  byPath?: Map<string, T>;
  /** One line per skipped entry or dropped field. */
  problems: string[];
  /** How many entries were skipped as invalid (not counting duplicates). */
  skipped?: number;
  /** True when the file is in the old daemon's format, had defaults filled in, or had entries dropped. */
  needsRewrite: boolean;
  /** True when the file is in the old daemon's format. */
  legacy: boolean;
  /** The registry snapshot's generation (which journal continues it); 0 for a file without one. */
  generation?: number;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new CorruptFileError(text.trim() === '' ? 'empty file' : `not valid JSON: ${messageOf(error)}`);
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Gathers a file's entries: de-duplicated by path (the first wins), invalid ones skipped, each problem noted. */
class Collector<T extends { filepath: string }> {
  readonly problems: string[] = [];
  readonly byPath = new Map<string, T>();
  readonly entries: T[] = [];
  skipped = 0;
  readonly #build: (raw: unknown, s: Strictness) => T;
  readonly #label: string;

  constructor(build: (raw: unknown, s: Strictness) => T, label: string) {
    this.#build = build;
    this.#label = label;
  }

  /** One for all entries: most have no problems, and a queue can hold 100,000 of them. */
  readonly #strictness: Strictness = { strict: false, problems: [] };

  add(raw: unknown, index: number): void {
    const s = this.#strictness;
    if (s.problems.length > 0) s.problems.length = 0;
    try {
      const entry = this.#build(raw, s);
      for (const p of s.problems) this.problems.push(`${p} (field dropped)`);
      if (this.byPath.has(entry.filepath)) {
        this.problems.push(
          `duplicate ${this.#label} ${JSON.stringify(entry.filepath)} at index ${index} skipped`,
        );
        return;
      }
      this.byPath.set(entry.filepath, entry);
      this.entries.push(entry);
    } catch (error) {
      this.skipped++;
      this.problems.push(`${this.#label} at index ${index} skipped: ${messageOf(error)}`);
    }
  }
}

function collect<T extends { filepath: string }>(
  items: readonly unknown[],
  build: (raw: unknown, s: Strictness) => T,
  label: string,
): Collector<T> {
  const collector = new Collector(build, label);
  items.forEach((raw, index) => collector.add(raw, index));
  return collector;
}

/** Builds queue entries, noting whether any needed defaults or fixes (then the file is written back). */
function queueBuilder(now: number) {
  const state = { incomplete: false };
  const build = (raw: unknown, s: Strictness): QueueEntry => {
    const adopted = adoptCanonicalQueueEntry(raw);
    if (adopted) return adopted;
    // Entries written by hand or by the old daemon lack fields that get defaults; writing them back makes the
    // defaults (the detection time in particular) stable across restarts.
    state.incomplete = true;
    return normaliseQueueEntry(raw, now, s);
  };
  return { state, build };
}

type LineStep = 'open' | 'version' | 'files' | 'entries' | 'close' | 'end';

/**
 * Reads `queue.json` line by line when it is exactly in the layout `serialiseList()` writes (one entry per
 * line): each line is parsed on its own, so a 100,000-entry queue never exists as one 20 MB string plus its
 * parse. Anything else (a hand edit, the old format, a truncated file) makes `line()` return false and
 * `finish()` undefined, and the caller reads the file the ordinary way, which accepts the same documents.
 */
export class QueueLineParser {
  #step: LineStep = 'open';
  #count = 0;
  #comma = false;
  readonly #builder: ReturnType<typeof queueBuilder>;
  readonly #collector: Collector<QueueEntry>;

  constructor(now: number) {
    this.#builder = queueBuilder(now);
    this.#collector = new Collector(this.#builder.build, 'queue entry');
  }

  /** Takes the next line; false when the file is not in the written layout (stop reading). */
  line(text: string): boolean {
    const line = text.trim();
    if (line === '') return true;
    switch (this.#step) {
      case 'open':
        return this.#next(line === '{', 'version');
      case 'version':
        return this.#next(line === `"version": ${FORMAT_VERSION},`, 'files');
      case 'files':
        if (line === '"files": []') return this.#next(true, 'close');
        return this.#next(line === '"files": [', 'entries');
      case 'entries': {
        if (line === ']') return this.#next(this.#count === 0 || !this.#comma, 'close');
        if (this.#count > 0 && !this.#comma) return false;
        this.#comma = line.endsWith(',');
        const body = this.#comma ? line.slice(0, -1) : line;
        if (!body.startsWith('{') || !body.endsWith('}')) return false;
        let raw: unknown;
        try {
          raw = JSON.parse(body);
        } catch {
          return false;
        }
        this.#collector.add(raw, this.#count++);
        return true;
      }
      case 'close':
        return this.#next(line === '}', 'end');
      case 'end':
        return false;
    }
  }

  /** The parsed file, or undefined when the document was not complete in the written layout. */
  finish(): ParsedFile<QueueEntry> | undefined {
    if (this.#step !== 'end') return undefined;
    const { entries, byPath, problems, skipped } = this.#collector;
    const needsRewrite = this.#builder.state.incomplete || problems.length > 0;
    return { entries, byPath, problems, skipped, legacy: false, needsRewrite };
  }

  #next(ok: boolean, step: LineStep): boolean {
    if (ok) this.#step = step;
    return ok;
  }
}

/** Reads `queue.json`: `{ "files": [...] }`, or the old daemon's bare array. Throws `CorruptFileError`. */
export function parseQueueFile(text: string, now: number): ParsedFile<QueueEntry> {
  const json = parseJson(text);
  let items: unknown[];
  const legacy = Array.isArray(json);
  if (Array.isArray(json)) items = json;
  else if (isRecord(json) && Array.isArray(json['files'])) items = json['files'];
  else throw new CorruptFileError('not a queue file: expected an object with a `files` array');
  const builder = queueBuilder(now);
  const { entries, problems, byPath, skipped } = collect(items, builder.build, 'queue entry');
  const incomplete = builder.state.incomplete;
  const versioned = isRecord(json) && json['version'] === FORMAT_VERSION;
  return {
    entries,
    byPath,
    problems,
    skipped,
    legacy,
    needsRewrite: legacy || !versioned || incomplete || problems.length > 0,
  };
}

/** Reads `failed.json`: `{ "files": [...] }` (a bare array is accepted too). Throws `CorruptFileError`. */
export function parseFailedFile(text: string, now: number): ParsedFile<FailedEntry> {
  const json = parseJson(text);
  let items: unknown[];
  if (Array.isArray(json)) items = json;
  else if (isRecord(json) && Array.isArray(json['files'])) items = json['files'];
  else throw new CorruptFileError('not a failed-files list: expected an object with a `files` array');
  const { entries, problems, byPath, skipped } = collect(
    items,
    (raw, s) => normaliseFailedEntry(raw, now, s),
    'failed entry',
  );
  const versioned = isRecord(json) && json['version'] === FORMAT_VERSION;
  return {
    entries,
    byPath,
    problems,
    skipped,
    legacy: false,
    needsRewrite: !versioned || problems.length > 0,
  };
}

/** Python's `time.time()` gives seconds; anything below this is taken as seconds, above as milliseconds. */
const SECONDS_LIMIT = 1e11;

/** Converts one entry of the old daemon's registry (`processed_at`, `mtime` in seconds) to the new shape. */
function fromLegacyRegistry(key: string, raw: Record<string, unknown>): Record<string, unknown> {
  // The old key is `<path>::<size>::<mtime seconds>`; the path itself may contain `::`, so split from the right.
  const parts = key.split('::');
  const keyMtime = parts.length >= 3 ? Number(parts.at(-1)) : Number.NaN;
  const keySize = parts.length >= 3 ? Number(parts.at(-2)) : Number.NaN;
  const keyPath = parts.length >= 3 ? parts.slice(0, -2).join('::') : undefined;
  const { processed_at: processedAt, mtime, ...rest } = raw;
  const processed = parseTime(processedAt);
  const uploadedAt =
    processed !== undefined && typeof processedAt === 'number' && processed < SECONDS_LIMIT
      ? processed * 1000
      : processed;
  const mtimeSeconds = typeof mtime === 'number' ? mtime : keyMtime;
  const out: Record<string, unknown> = {
    ...rest,
    filepath: raw['filepath'] ?? keyPath,
    size: raw['size'] ?? keySize,
    mtimeMs: mtimeSeconds * 1000,
    legacyMtime: true,
  };
  if (uploadedAt !== undefined) out['uploadedAt'] = uploadedAt;
  return out;
}

/**
 * Reads `processed_files.json`: `{ "files": { "<path>::<size>::<mtime s>": entry } }`, including the old daemon's
 * entries (`processed_at`, `mtime` in seconds). Throws `CorruptFileError`.
 */
export function parseRegistryFile(text: string, now: number): ParsedFile<RegistryEntry> {
  const json = parseJson(text);
  if (!isRecord(json) || (!isRecord(json['files']) && !Array.isArray(json['files']))) {
    throw new CorruptFileError('not a registry file: expected an object with a `files` map');
  }
  const files = json['files'];
  const problems: string[] = [];
  const entries: RegistryEntry[] = [];
  const seen = new Set<string>();
  let legacy = false;
  const pairs: Array<[string, unknown]> = Array.isArray(files)
    ? files.map((raw, index) => [String(index), raw])
    : Object.entries(files);
  for (const [key, raw] of pairs) {
    const s: Strictness = { strict: false, problems: [] };
    try {
      let source = raw;
      if (isRecord(raw) && !('mtimeMs' in raw) && ('mtime' in raw || 'processed_at' in raw)) {
        legacy = true;
        source = fromLegacyRegistry(key, raw);
      }
      const entry = normaliseRegistryEntry(source, now, s);
      for (const p of s.problems) problems.push(`${p} (field dropped)`);
      const id = identityKey(entry);
      if (seen.has(id)) continue;
      seen.add(id);
      entries.push(entry);
    } catch (error) {
      problems.push(`registry entry ${JSON.stringify(key)} skipped: ${messageOf(error)}`);
    }
  }
  const versioned = json['version'] === FORMAT_VERSION;
  const generation = typeof json['generation'] === 'number' ? json['generation'] : 0;
  return {
    entries,
    problems,
    legacy,
    generation,
    needsRewrite: legacy || !versioned || problems.length > 0,
  };
}

/** About how many characters {@link listChunks} and {@link registryChunks} put in one chunk. */
export const CHUNK_CHARS = 64 * 1024;

/**
 * A document of `lines` between `open` and `close` (or `empty` without lines), cut into pieces of about `size`
 * characters: their concatenation is exactly `open + lines.join(SEPARATOR) + close`, but no piece holds more than
 * one chunk's worth of entries, so a 100,000-entry file is written without ever existing as one string.
 */
function* documentChunks(
  lines: Iterable<string>,
  open: string,
  close: string,
  empty: string,
  size: number,
): Generator<string, void, undefined> {
  let out = open;
  let first = true;
  for (const line of lines) {
    out += first ? line : SEPARATOR + line;
    first = false;
    if (out.length >= size) {
      yield out;
      out = '';
    }
  }
  yield first ? empty : out + close;
}

const VERSION_LINE = `{\n  "version": ${FORMAT_VERSION},\n`;

/**
 * `queue.json` or `failed.json` from each entry's JSON line, in chunks of about `size` characters (the bytes of
 * {@link serialiseList}). One entry per line: `jq` reads it, a person can edit it with nano, and
 * {@link QueueLineParser} reads it back line by line.
 */
export function listChunks(lines: Iterable<string>, size = CHUNK_CHARS): Generator<string, void, undefined> {
  return documentChunks(
    lines,
    `${VERSION_LINE}  "files": [\n    `,
    '\n  ]\n}\n',
    `${VERSION_LINE}  "files": []\n}\n`,
    size,
  );
}

/** Serialises the queue or the failed list from each entry's JSON line, as one string. */
export function serialiseList(lines: readonly string[]): string {
  return [...listChunks(lines, Infinity)].join('');
}

/** A registry record's line: its old-daemon key, then its JSON (not cached: a snapshot is written rarely). */
function* registryLines(entries: Iterable<RegistryEntry>): Generator<string, void, undefined> {
  for (const entry of entries) yield `${JSON.stringify(identityKey(entry))}: ${JSON.stringify(entry)}`;
}

/**
 * The registry as a map keyed like the old daemon's, one entry per line, in chunks of about `size` characters.
 * `generation` (which journal continues this snapshot, see journal.ts) is written when given; readers that do not
 * know it ignore it.
 */
export function registryChunks(
  entries: Iterable<RegistryEntry>,
  generation?: number,
  size = CHUNK_CHARS,
): Generator<string, void, undefined> {
  const head = `${VERSION_LINE}${generation === undefined ? '' : `  "generation": ${generation},\n`}`;
  return documentChunks(
    registryLines(entries),
    `${head}  "files": {\n    `,
    '\n  }\n}\n',
    `${head}  "files": {}\n}\n`,
    size,
  );
}

/** Serialises the registry (see {@link registryChunks}) as one string. */
export function serialiseRegistry(entries: Iterable<RegistryEntry>, generation?: number): string {
  return [...registryChunks(entries, generation, Infinity)].join('');
}
