import type { StoreCore } from './core.js';
import {
  identityKey,
  normaliseRegistryEntry,
  type FileRef,
  type RegistryEntry,
  type RegistryMarkInput,
} from './entries.js';
import { QueueError, formatValue } from './errors.js';
import { sameVersion } from './identity.js';
import { markLine, pruneLine, type JournalOp } from './journal.js';

const DAY_MS = 86_400_000;

function checkIdentity(identity: FileRef): void {
  if (
    typeof identity !== 'object' ||
    identity === null ||
    typeof identity.filepath !== 'string' ||
    typeof identity.size !== 'number' ||
    typeof identity.mtimeMs !== 'number'
  ) {
    throw new QueueError(
      'INVALID_ENTRY',
      `Invalid file identity: expected { filepath, size, mtimeMs }, got ${formatValue(identity)}`,
    );
  }
}

const inodeKey = (dev: number, ino: number) => `${dev}:${ino}`;

function push(map: Map<string, RegistryEntry[]>, key: string, entry: RegistryEntry): void {
  const list = map.get(key);
  if (list) list.push(entry);
  else map.set(key, [entry]);
}

function drop(map: Map<string, RegistryEntry[]>, key: string, entry: RegistryEntry): void {
  const list = map.get(key);
  if (!list) return;
  const rest = list.filter((e) => e !== entry);
  if (rest.length > 0) map.set(key, rest);
  else map.delete(key);
}

/**
 * The processed-files registry (`processed_files.json`): what was uploaded, by file identity, with the upload
 * time the after-upload deletion policy counts from. Entries older than the retention are pruned at open, and
 * while running at most once per `pruneIntervalMs` as files are marked (or whenever `prune()` is called).
 */
export class ProcessedRegistry {
  readonly #core: StoreCore;
  readonly #retentionMs: number;
  readonly #pruneIntervalMs: number;
  readonly #byKey = new Map<string, RegistryEntry>();
  readonly #byPath = new Map<string, RegistryEntry[]>();
  readonly #byInode = new Map<string, RegistryEntry[]>();
  #lastPruneAt = -Infinity;
  /** The journal lines of the changes made since the last write took them (see `takeJournal()`). */
  #journal: string[] = [];

  /** @internal Created by `openStateStore()`. */
  constructor(core: StoreCore, retentionDays: number, pruneIntervalMs: number) {
    this.#core = core;
    this.#retentionMs = retentionDays * DAY_MS;
    this.#pruneIntervalMs = pruneIntervalMs;
  }

  /** @internal Fills the registry at open. */
  load(entries: Iterable<RegistryEntry>, ops: readonly JournalOp[] = []): void {
    for (const entry of entries) this.#insert(entry);
    for (const op of ops) {
      if ('mark' in op) this.#insert(op.mark);
      else this.#removeBefore(op.prune);
    }
  }

  /** @internal The journal lines of the changes not yet written; the caller writes them (or a snapshot). */
  takeJournal(): string[] {
    const lines = this.#journal;
    this.#journal = [];
    return lines;
  }

  /** @internal Puts back lines whose write failed, before the changes made since. */
  restoreJournal(lines: readonly string[]): void {
    if (lines.length > 0) this.#journal = [...lines, ...this.#journal];
  }

  /** How many files are recorded. */
  get size(): number {
    return this.#byKey.size;
  }

  /**
   * The record of this file version (`sameVersion()`): at the same path; or, when `dev` and `ino` are given, the
   * same inode at another path (the file was renamed, as logrotate does).
   */
  get(identity: FileRef): RegistryEntry | undefined {
    checkIdentity(identity);
    const byPath = this.#byPath.get(identity.filepath)?.find((e) => sameVersion(e, identity));
    if (byPath) return byPath;
    if (identity.dev === undefined || identity.ino === undefined) return undefined;
    return this.#byInode.get(inodeKey(identity.dev, identity.ino))?.find((e) => sameVersion(e, identity));
  }

  /** Whether this file was uploaded already (see `get()`). */
  has(identity: FileRef): boolean {
    return this.get(identity) !== undefined;
  }

  /** Every record, in the order they were made. */
  list(): RegistryEntry[] {
    return [...this.#byKey.values()];
  }

  /**
   * Records an upload. Marking the same identity again replaces the record.
   * @throws QueueError `INVALID_ENTRY` without `filepath`, `size`, `mtimeMs` or a string `key`.
   */
  async mark(input: RegistryMarkInput): Promise<RegistryEntry> {
    this.#core.assertOpen();
    const now = this.#core.clock.now();
    if (typeof input !== 'object' || input === null || typeof input.key !== 'string' || input.key === '') {
      throw new QueueError(
        'INVALID_ENTRY',
        `Invalid registry entry: needs a non-empty string \`key\`, got ${formatValue(input?.key)}`,
      );
    }
    const entry = normaliseRegistryEntry({ ...input, uploadedAt: input.uploadedAt ?? now }, now, {
      strict: true,
      problems: [],
    });
    this.#insert(entry);
    // Not cached: a record's line is needed again only at the next compaction, and 100,000 cached lines would cost
    // about 20 MB for the daemon's whole run.
    this.#journal.push(markLine(JSON.stringify(entry)));
    if (now - this.#lastPruneAt >= this.#pruneIntervalMs) this.pruneInMemory(now);
    await this.#core.changed('registry');
    return entry;
  }

  /**
   * Removes records whose upload is older than the retention (`registryRetentionDays`). Resolves with how many
   * were removed, once that is durable.
   * @param now Epoch ms. @default clock.now()
   */
  async prune(now: number = this.#core.clock.now()): Promise<number> {
    this.#core.assertOpen();
    const removed = this.pruneInMemory(now);
    if (removed > 0) await this.#core.changed('registry');
    else await this.#core.flush();
    return removed;
  }

  /** @internal Prunes without writing; the caller marks the registry changed. */
  pruneInMemory(now: number): number {
    this.#lastPruneAt = now;
    const cutoff = now - this.#retentionMs;
    const removed = this.#removeBefore(cutoff);
    if (removed > 0) this.#journal.push(pruneLine(cutoff));
    return removed;
  }

  #removeBefore(cutoff: number): number {
    let removed = 0;
    for (const [key, entry] of this.#byKey) {
      if (entry.uploadedAt >= cutoff) continue;
      this.#byKey.delete(key);
      drop(this.#byPath, entry.filepath, entry);
      if (entry.dev !== undefined && entry.ino !== undefined)
        drop(this.#byInode, inodeKey(entry.dev, entry.ino), entry);
      removed++;
    }
    return removed;
  }

  /** @internal The records to serialise. */
  values(): IterableIterator<RegistryEntry> {
    return this.#byKey.values();
  }

  #insert(entry: RegistryEntry): void {
    const key = identityKey(entry);
    const previous = this.#byKey.get(key);
    if (previous) {
      this.#byKey.delete(key);
      drop(this.#byPath, previous.filepath, previous);
      if (previous.dev !== undefined && previous.ino !== undefined) {
        drop(this.#byInode, inodeKey(previous.dev, previous.ino), previous);
      }
    }
    this.#byKey.set(key, entry);
    push(this.#byPath, entry.filepath, entry);
    if (entry.dev !== undefined && entry.ino !== undefined)
      push(this.#byInode, inodeKey(entry.dev, entry.ino), entry);
  }
}
