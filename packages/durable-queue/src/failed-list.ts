import type { StoreCore } from './core.js';
import {
  normaliseFailedEntry,
  normaliseQueueEntry,
  requireFilepath,
  type FailedEntry,
  type FailedEntryInput,
} from './entries.js';
import { QueueError, formatValue } from './errors.js';

/**
 * The dead-letter list (`failed.json`): files given up on after a permanent error or an exhausted retry budget.
 * Operators list them and requeue them once the cause is fixed.
 */
export class FailedList {
  readonly #core: StoreCore;

  /** @internal Created by `openStateStore()`. */
  constructor(core: StoreCore) {
    this.#core = core;
  }

  /** How many files are on the list. */
  get size(): number {
    return this.#core.failedEntries.size;
  }

  /** Whether `filepath` is on the list. */
  has(filepath: string): boolean {
    return this.#core.failedEntries.has(filepath);
  }

  /** The entry of `filepath`, or `undefined`. */
  get(filepath: string): FailedEntry | undefined {
    return this.#core.failedEntries.get(filepath);
  }

  /** Every entry, oldest failure first. */
  list(): FailedEntry[] {
    return [...this.#core.failedEntries.values()];
  }

  /**
   * Moves a file to the list: removes it from the queue (if queued) and records why. Fields not given (size,
   * source, attempts, multipart state) are taken from its queue entry. A path already on the list is replaced.
   * Written in an order that can leave the file on both lists after a crash, never on neither.
   * @throws QueueError `INVALID_ENTRY` without `filepath`, a non-empty `category` or a string `message`.
   */
  async add(input: FailedEntryInput): Promise<FailedEntry> {
    this.#core.assertOpen();
    const filepath = requireFilepath(input, 'failed entry');
    if (typeof input.category !== 'string' || input.category === '' || typeof input.message !== 'string') {
      throw new QueueError(
        'INVALID_ENTRY',
        `Invalid failed entry ${JSON.stringify(filepath)}: needs a non-empty string \`category\` and a string \`message\`, got ${formatValue(input.category)} and ${formatValue(input.message)}`,
      );
    }
    const now = this.#core.clock.now();
    const queued = this.#core.queueEntries.get(filepath);
    const base: Record<string, unknown> = queued ? { ...queued } : {};
    delete base['nextAttemptAt'];
    delete base['lastError'];
    const entry = normaliseFailedEntry(
      {
        ...base,
        ...input,
        attempts: input.attempts ?? queued?.attempts ?? 0,
        failedAt: input.failedAt ?? now,
      },
      now,
      { strict: true, problems: [] },
    );
    // Re-inserting keeps the list in failure order.
    this.#core.failedEntries.delete(filepath);
    this.#core.failedEntries.set(filepath, entry);
    const wasQueued = this.#core.queueEntries.delete(filepath);
    await (wasQueued ? this.#core.changed('failed', 'queue') : this.#core.changed('failed'));
    return entry;
  }

  /** Removes a file from the list without requeueing it. Resolves `false` when it was not there. */
  async remove(filepath: string): Promise<boolean> {
    this.#core.assertOpen();
    if (!this.#core.failedEntries.delete(filepath)) {
      await this.#core.flush();
      return false;
    }
    await this.#core.changed('failed');
    return true;
  }

  /**
   * Moves one file (or `'all'`) back to the queue with `attempts` 0, due now; the multipart state is kept so an
   * upload can resume. A path queued already stays as it is. Resolves with how many entries left the list.
   * @throws QueueError `INVALID_ENTRY` for a target that is not a non-empty string.
   */
  async requeue(target: string): Promise<number> {
    this.#core.assertOpen();
    if (typeof target !== 'string' || target === '') {
      throw new QueueError(
        'INVALID_ENTRY',
        `Invalid requeue target: expected a path or 'all', got ${formatValue(target)}`,
      );
    }
    const entries =
      target === 'all'
        ? [...this.#core.failedEntries.values()]
        : [this.#core.failedEntries.get(target)].filter((e): e is FailedEntry => e !== undefined);
    if (entries.length === 0) {
      await this.#core.flush();
      return 0;
    }
    const now = this.#core.clock.now();
    for (const failed of entries) {
      this.#core.failedEntries.delete(failed.filepath);
      this.#core.noteRequeued(failed);
      if (this.#core.queueEntries.has(failed.filepath)) continue;
      const { failedAt: _failedAt, category: _category, message: _message, ...rest } = failed;
      this.#core.queueEntries.set(
        failed.filepath,
        normaliseQueueEntry({ ...rest, attempts: 0, nextAttemptAt: 0 }, now, { strict: false, problems: [] }),
      );
    }
    await this.#core.changed('failed', 'queue');
    return entries.length;
  }
}
