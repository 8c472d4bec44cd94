import type { StoreCore } from './core.js';
import {
  normaliseQueueEntry,
  type QueueEntry,
  type QueueEntryInput,
  type QueueEntryPatch,
} from './entries.js';
import { QueueError, formatValue, invalidOption } from './errors.js';

/** The order `due()` returns entries in. */
export type DueOrder = 'oldest_first' | 'newest_first';

/** Options of `queue.due()`. */
export interface DueOptions {
  /** By the file's age: `mtimeMs` when known, else `detectedAt`. @default 'oldest_first' */
  order?: DueOrder;
  /** At most this many entries. @default Infinity */
  limit?: number;
}

const REQUIRED = new Set(['detectedAt', 'attempts', 'nextAttemptAt']);
const strict = () => ({ strict: true, problems: [] });

/**
 * The upload queue (`queue.json`): files waiting for upload with their retry and multipart state, one entry per
 * path. Reads are synchronous; every mutation applies in memory at once and resolves when it is durable.
 */
export class UploadQueue {
  readonly #core: StoreCore;

  /** @internal Created by `openStateStore()`. */
  constructor(core: StoreCore) {
    this.#core = core;
  }

  /** How many files wait. */
  get size(): number {
    return this.#core.queueEntries.size;
  }

  /** Whether `filepath` is queued. */
  has(filepath: string): boolean {
    return this.#core.queueEntries.has(filepath);
  }

  /** The entry of `filepath` (frozen), or `undefined`. */
  get(filepath: string): QueueEntry | undefined {
    return this.#core.queueEntries.get(filepath);
  }

  /** Every entry, in the order they were queued. */
  list(): QueueEntry[] {
    return [...this.#core.queueEntries.values()];
  }

  /**
   * Queues a file. De-duplicated by path: when `filepath` is queued already, the existing entry is kept as it is
   * and the result is `false`. A path on the failed list leaves it (a failed file detected again is retried);
   * skip `failed.has(path)` before calling this to leave failed files alone.
   * @throws QueueError `INVALID_ENTRY` without a non-empty string `filepath` or with a malformed field.
   */
  async add(input: QueueEntryInput): Promise<boolean> {
    return (await this.addAll([input])) === 1;
  }

  /**
   * Queues several files at once, each as `add()` does (de-duplicated by path, the first of a path in `inputs`
   * wins; a path on the failed list leaves it), with one promise for all of them instead of one per file: a
   * start-up scan queues thousands at once, and 100,000 pending `add()` promises cost about 50 MB. Memory changes
   * before it returns. Resolves with how many were new, once that is durable.
   * @throws QueueError `INVALID_ENTRY` when an input is invalid: it is skipped, the valid ones are queued all the
   *   same, and the promise rejects (naming the first invalid input and how many there were) once they are durable.
   */
  async addAll(inputs: Iterable<QueueEntryInput>): Promise<number> {
    this.#core.assertOpen();
    const now = this.#core.clock.now();
    let valid = 0;
    let added = 0;
    let requeued = false;
    let invalid: { error: unknown; count: number } | undefined;
    for (const input of inputs) {
      let entry: QueueEntry;
      try {
        entry = normaliseQueueEntry(input, now, strict());
      } catch (error) {
        invalid = { error: invalid?.error ?? error, count: (invalid?.count ?? 0) + 1 };
        continue;
      }
      valid++;
      if (this.#core.queueEntries.has(entry.filepath)) continue;
      this.#core.queueEntries.set(entry.filepath, entry);
      added++;
      const failed = this.#core.failedEntries.get(entry.filepath);
      if (failed) {
        // A failed file detected again (the runbook's restart or `touch`) is queued again, and leaves the list.
        this.#core.failedEntries.delete(entry.filepath);
        this.#core.noteRequeued(failed);
        requeued = true;
      }
    }
    if (requeued) await this.#core.changed('queue', 'failed');
    else if (added > 0) await this.#core.changed('queue');
    // Nothing valid: nothing to wait for (a full disk must not hold back the rejection).
    else if (valid > 0) await this.#core.flush();
    if (invalid === undefined) return added;
    if (invalid.count === 1) throw invalid.error;
    const first = invalid.error as QueueError;
    throw new QueueError(
      'INVALID_ENTRY',
      `${first.message} (and ${invalid.count - 1} more invalid input(s) skipped)`,
    );
  }

  /**
   * Changes fields of a queued entry (retry state, last error, multipart state); `undefined` removes an optional
   * field. Resolves with the new entry, or `undefined` when `filepath` is not queued.
   * @throws QueueError `INVALID_ENTRY` for a malformed field or an attempt to change `filepath`.
   */
  async update(filepath: string, patch: QueueEntryPatch): Promise<QueueEntry | undefined> {
    this.#core.assertOpen();
    if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
      throw new QueueError(
        'INVALID_ENTRY',
        `Invalid update of ${JSON.stringify(filepath)}: got ${formatValue(patch)}`,
      );
    }
    if ('filepath' in patch && patch['filepath'] !== filepath) {
      throw new QueueError(
        'INVALID_ENTRY',
        `Invalid update of ${JSON.stringify(filepath)}: \`filepath\` cannot change`,
      );
    }
    const current = this.#core.queueEntries.get(filepath);
    if (!current) return undefined;
    const merged: Record<string, unknown> = { ...current };
    for (const [key, value] of Object.entries(patch)) {
      if (value !== undefined) merged[key] = value;
      else if (!REQUIRED.has(key)) delete merged[key];
    }
    const entry = normaliseQueueEntry(merged, this.#core.clock.now(), strict());
    this.#core.queueEntries.set(filepath, entry);
    await this.#core.changed('queue');
    return entry;
  }

  /** Removes a file from the queue (after its upload, say). Resolves `false` when it was not queued. */
  async remove(filepath: string): Promise<boolean> {
    this.#core.assertOpen();
    if (!this.#core.queueEntries.delete(filepath)) {
      await this.#core.flush();
      return false;
    }
    await this.#core.changed('queue');
    return true;
  }

  /**
   * The entries whose `nextAttemptAt` has come (`<= now`), oldest file first by default.
   * @param now Epoch ms. @default clock.now()
   */
  due(now: number = this.#core.clock.now(), options: DueOptions = {}): QueueEntry[] {
    const order = options.order ?? 'oldest_first';
    if (order !== 'oldest_first' && order !== 'newest_first') {
      invalidOption('order', "'oldest_first' or 'newest_first'", order);
    }
    const limit = options.limit ?? Infinity;
    if (!(limit === Infinity || (Number.isSafeInteger(limit) && limit >= 0))) {
      invalidOption('limit', 'a non-negative integer', limit);
    }
    if (typeof now !== 'number' || Number.isNaN(now)) invalidOption('now', 'epoch milliseconds', now);
    const due: QueueEntry[] = [];
    for (const entry of this.#core.queueEntries.values()) if (entry.nextAttemptAt <= now) due.push(entry);
    const sign = order === 'oldest_first' ? 1 : -1;
    // Map iteration is insertion order and the sort is stable, so equal ages keep their queueing order.
    due.sort((a, b) => sign * ((a.mtimeMs ?? a.detectedAt) - (b.mtimeMs ?? b.detectedAt)));
    return limit < due.length ? due.slice(0, limit) : due;
  }
}
