import { mkdir, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { manifestText, type ManifestLine } from './lines.js';

const DAY = /^(\d{4}-\d{2}-\d{2})\.jsonl$/;

/** What the journal needs of its surroundings. */
export interface ManifestJournalOptions {
  /** `{state dir}/manifests`. */
  directory: string;
  /** The local date (YYYY-MM-DD) of an instant, in `upload.timezone`. */
  dateOf: (epochMs: number) => string;
  /** How long appended lines are gathered before one append + fsync. @default 250 */
  commitDelayMs?: number;
  onWriteError?: (error: Error) => void;
}

/**
 * The manifests' local, durable half: each day's lines appended to `{directory}/{date}.jsonl` (gathered for the
 * commit delay, then one append and one fsync, as the state store batches its writes), kept until that day's
 * manifest is in S3 (`{date}.sent` marks it) and a retention period has passed. A line that cannot be written (a
 * full disk) stays in memory and goes with the next append.
 */
export class ManifestJournal {
  readonly #o: ManifestJournalOptions;
  #pending: Array<{ date: string; text: string }> = [];
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> = Promise.resolve();

  constructor(options: ManifestJournalOptions) {
    this.#o = options;
  }

  get directory(): string {
    return this.#o.directory;
  }

  /** Records a line under the local day of `atMs`; durable within the commit delay (see {@link flush}). */
  record(line: ManifestLine, atMs: number): void {
    this.#pending.push({ date: this.#o.dateOf(atMs), text: `${JSON.stringify(line)}\n` });
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#writing = this.#writing.then(() => this.#append());
    }, this.#o.commitDelayMs ?? 250);
    this.#timer.unref();
  }

  /** Resolves once every line recorded so far is on disk (or failed to be, reported through onWriteError). */
  async flush(): Promise<void> {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#writing = this.#writing.then(() => this.#append());
    }
    await this.#writing;
  }

  async #append(): Promise<void> {
    const batch = this.#pending;
    if (batch.length === 0) return;
    this.#pending = [];
    const byDate = new Map<string, string>();
    for (const { date, text } of batch) byDate.set(date, (byDate.get(date) ?? '') + text);
    for (const [date, text] of byDate) {
      try {
        await mkdir(this.#o.directory, { recursive: true });
        const handle = await open(join(this.#o.directory, `${date}.jsonl`), 'a');
        try {
          await handle.write(text);
          await handle.datasync();
        } finally {
          await handle.close();
        }
      } catch (error) {
        // Kept for the next append; a torn tail from a partial write is skipped by the parser.
        this.#pending.unshift({ date, text });
        this.#o.onWriteError?.(error as Error);
      }
    }
  }

  /** The days that have a journal, oldest first, with whether their manifest is in S3. */
  async days(): Promise<Array<{ date: string; sent: boolean }>> {
    let names: string[];
    try {
      names = await readdir(this.#o.directory);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const sent = new Set(names.filter((n) => n.endsWith('.sent')).map((n) => n.slice(0, -'.sent'.length)));
    return names
      .map((name) => DAY.exec(name)?.[1])
      .filter((date): date is string => date !== undefined)
      .sort()
      .map((date) => ({ date, sent: sent.has(date) }));
  }

  /** A day's manifest text (deduplicated, in recording order) and how many torn lines were skipped. */
  async body(date: string): Promise<{ body: string; lines: number; malformed: number }> {
    let text = '';
    try {
      text = await readFile(join(this.#o.directory, `${date}.jsonl`), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    return manifestText(text);
  }

  /** Marks a day's manifest as in S3 (written after the PUT succeeded). */
  async markSent(date: string, key: string, atMs: number): Promise<void> {
    await writeFile(
      join(this.#o.directory, `${date}.sent`),
      `${JSON.stringify({ key, at: new Date(atMs).toISOString() })}\n`,
    );
  }

  /** Removes the journals of sent days older than `before` (YYYY-MM-DD). */
  async prune(before: string): Promise<void> {
    for (const { date, sent } of await this.days()) {
      if (!sent || date >= before) continue;
      await rm(join(this.#o.directory, `${date}.jsonl`), { force: true });
      await rm(join(this.#o.directory, `${date}.sent`), { force: true });
    }
  }
}
