import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { readTextIfExists, statIfExists, syncDirectory, writeFileAtomic } from './adapters/files.js';
import { identityKey, normaliseRegistryEntry, type RegistryEntry } from './entries.js';
import { QueueError, messageOf } from './errors.js';

/**
 * The registry's append-only journal (`processed_files.journal` beside `processed_files.json`): one JSON line per
 * change since the snapshot was last written, so that marking one upload appends one line instead of rewriting
 * every record. The first line names the snapshot generation it continues:
 *
 *     {"journal":1,"generation":7}
 *     {"mark":{"filepath":"/var/log/syslog.1","size":2048,"mtimeMs":1760974200000,"key":"...","uploadedAt":...}}
 *     {"prune":1758382200000}
 *
 * `mark` adds or replaces a record (by identity key); `prune` removes every record uploaded before that time.
 * Replaying a journal over any snapshot that already contains some of its changes gives the same records (each
 * change sets or removes by key, or removes by a fixed cutoff), so a crash between the snapshot's rename and the
 * journal's truncation loses and doubles nothing.
 */

/** The journal file of a registry file: `processed_files.json` -> `processed_files.journal`. */
export function journalFileOf(registryFile: string): string {
  return registryFile.endsWith('.json')
    ? `${registryFile.slice(0, -'.json'.length)}.journal`
    : `${registryFile}.journal`;
}

/** One change of the registry. */
export type JournalOp = { readonly mark: RegistryEntry } | { readonly prune: number };

/** The journal line of a mark (the entry's JSON is the one the snapshot holds). */
export const markLine = (entryJson: string): string => `{"mark":${entryJson}}`;

/** The journal line of a prune. */
export const pruneLine = (cutoff: number): string => `{"prune":${cutoff}}`;

const headerLine = (generation: number): string => `{"journal":1,"generation":${generation}}`;

/** A journal as read. */
export interface ParsedJournal {
  /** The snapshot generation the journal continues; `undefined` for a journal without a header. */
  generation: number | undefined;
  ops: JournalOp[];
  /** Bytes and change lines in the file (for the compaction bound). */
  bytes: number;
  /** A last line cut short by a crash or a power cut (never acknowledged: ignored). */
  torn: boolean;
  /** Complete lines that could not be used (skipped). */
  problems: string[];
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses a journal's text. A last line without its newline is a torn append and is ignored. */
export function parseJournal(text: string, now: number): ParsedJournal {
  const lines = text.split('\n');
  const last = lines.pop() ?? '';
  const torn = last !== '';
  const result: ParsedJournal = {
    generation: undefined,
    ops: [],
    bytes: Buffer.byteLength(text, 'utf8'),
    torn,
    problems: [],
  };
  lines.forEach((line, index) => {
    if (line.trim() === '') return;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (error) {
      result.problems.push(`journal line ${index + 1} skipped: not valid JSON (${messageOf(error)})`);
      return;
    }
    if (isRecord(json) && typeof json['generation'] === 'number' && 'journal' in json) {
      if (index === 0) result.generation = json['generation'];
      return;
    }
    if (isRecord(json) && typeof json['prune'] === 'number') {
      result.ops.push({ prune: json['prune'] });
      return;
    }
    if (isRecord(json) && isRecord(json['mark'])) {
      try {
        result.ops.push({ mark: normaliseRegistryEntry(json['mark'], now, { strict: false, problems: [] }) });
      } catch (error) {
        result.problems.push(`journal line ${index + 1} skipped: ${messageOf(error)}`);
      }
      return;
    }
    result.problems.push(`journal line ${index + 1} skipped: neither a mark nor a prune`);
  });
  return result;
}

/** Replays journal changes over snapshot records, in order; returns the records. */
export function replayJournal(entries: Iterable<RegistryEntry>, ops: readonly JournalOp[]): RegistryEntry[] {
  const byKey = new Map<string, RegistryEntry>();
  for (const entry of entries) byKey.set(identityKey(entry), entry);
  for (const op of ops) {
    if ('mark' in op) {
      const key = identityKey(op.mark);
      byKey.delete(key);
      byKey.set(key, op.mark);
    } else {
      for (const [key, entry] of byKey) if (entry.uploadedAt < op.prune) byKey.delete(key);
    }
  }
  return [...byKey.values()];
}

/** Reads a journal file; `undefined` when there is none. */
export async function readJournal(path: string, now: number): Promise<ParsedJournal | undefined> {
  const text = await readTextIfExists(path);
  return text === undefined ? undefined : parseJournal(text, now);
}

/** Writes every byte (a write to a nearly full disk can be short without an error; the next one then fails). */
async function writeAll(handle: FileHandle, data: Buffer): Promise<void> {
  for (let offset = 0; offset < data.length;) {
    const { bytesWritten } = await handle.write(data, offset, data.length - offset);
    offset += bytesWritten;
  }
}

/**
 * Appends to the journal durably (write, fdatasync), and starts it afresh after a compaction. Keeps the file
 * open between appends. A failed append (a full disk) is cut back to the last complete append, so a partial line
 * never sits between two good ones; when even that fails, `clean` turns false and the next write must be a
 * compaction (which truncates the file).
 */
export class JournalWriter {
  readonly path: string;
  #handle: FileHandle | undefined;
  /** Length of the file up to the end of the last durable append. */
  #bytes: number;
  /** Change lines in the file. */
  #records: number;
  #clean = true;

  constructor(path: string, bytes: number, records: number) {
    this.path = path;
    this.#bytes = bytes;
    this.#records = records;
  }

  /** Takes over the size of the journal found at open. */
  adopt(bytes: number, records: number): void {
    this.#bytes = bytes;
    this.#records = records;
  }

  /** Change lines since the last compaction. */
  get records(): number {
    return this.#records;
  }

  /** Bytes up to the end of the last durable append (where a compaction's snapshot cuts the journal). */
  get bytes(): number {
    return this.#bytes;
  }

  /** False after an append that failed and could not be cut back. */
  get clean(): boolean {
    return this.#clean;
  }

  async #open(): Promise<FileHandle> {
    if (this.#handle) return this.#handle;
    const existed = this.#bytes > 0 || (await statIfExists(this.path)) !== undefined;
    const handle = await open(this.path, 'a', 0o644);
    try {
      // A new file's name must be durable too, or a power cut could take the whole journal with it.
      if (!existed) await syncDirectory(dirname(this.path));
    } catch (error) {
      await handle.close();
      throw error;
    }
    this.#handle = handle;
    return handle;
  }

  /** Appends lines (one change each) and makes them durable. */
  async append(lines: readonly string[], generation: number): Promise<void> {
    if (lines.length === 0) return;
    try {
      const handle = await this.#open();
      const text = (this.#bytes === 0 ? `${headerLine(generation)}\n` : '') + `${lines.join('\n')}\n`;
      const data = Buffer.from(text, 'utf8');
      try {
        await writeAll(handle, data);
        await handle.datasync();
      } catch (error) {
        await handle.truncate(this.#bytes).catch(() => {
          this.#clean = false;
        });
        throw error;
      }
      this.#bytes += data.length;
      this.#records += lines.length;
    } catch (error) {
      throw new QueueError('WRITE_FAILED', `Cannot append to ${this.path}: ${messageOf(error)}`, {
        cause: error,
      });
    }
  }

  /**
   * Empties the journal after the snapshot of `generation` was written (in place: no new disk blocks), leaving its
   * header. A failure leaves the old lines, which replay harmlessly over the new snapshot.
   */
  async reset(generation: number): Promise<void> {
    try {
      const handle = await this.#open();
      await handle.truncate(0);
      const header = Buffer.from(`${headerLine(generation)}\n`, 'utf8');
      this.#bytes = 0;
      this.#records = 0;
      await writeAll(handle, header);
      await handle.datasync();
      this.#bytes = header.length;
      this.#clean = true;
    } catch (error) {
      throw new QueueError('WRITE_FAILED', `Cannot truncate ${this.path}: ${messageOf(error)}`, {
        cause: error,
      });
    }
  }

  /**
   * After the snapshot of `generation` was written from a state that held every change up to byte `cut` (taken
   * while no append was under way), replaces the journal with its header and the appends made since `cut`: the
   * snapshot's cost stays off the appends, which went on meanwhile. Atomic (a temp file renamed over the journal),
   * so a crash leaves the old journal, which replays harmlessly over the new snapshot. Must not overlap an append.
   */
  async restart(generation: number, cut: { bytes: number; records: number }): Promise<void> {
    try {
      const end = this.#bytes;
      let tail = Buffer.alloc(Math.max(0, end - cut.bytes));
      if (tail.length > 0) {
        const handle = await this.#open();
        for (let filled = 0; filled < tail.length;) {
          const { bytesRead } = await handle.read(tail, filled, tail.length - filled, cut.bytes + filled);
          if (bytesRead === 0)
            throw new Error(`the journal ended at byte ${cut.bytes + filled}, expected ${end}`);
          filled += bytesRead;
        }
        // A journal started after the cut begins with its own header: the new one replaces it.
        if (cut.bytes === 0) tail = tail.subarray(tail.indexOf(10) + 1);
      }
      const data = Buffer.concat([Buffer.from(`${headerLine(generation)}\n`, 'utf8'), tail]);
      await writeFileAtomic(this.path, data);
      const old = this.#handle;
      this.#handle = undefined;
      await old?.close().catch(() => undefined);
      this.#bytes = data.length;
      this.#records = Math.max(0, this.#records - cut.records);
      this.#clean = true;
    } catch (error) {
      throw new QueueError('WRITE_FAILED', `Cannot restart ${this.path}: ${messageOf(error)}`, {
        cause: error,
      });
    }
  }

  async close(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close().catch(() => undefined);
  }
}
