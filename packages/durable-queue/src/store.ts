import { basename, dirname } from 'node:path';
import { ensureDirectory, removeFile, renameFile, writeDurably } from './adapters/files.js';
import { acquireLock, type HeldLock } from './adapters/lock.js';
import { systemClock, type Clock } from './clock.js';
import { GroupCommitter, type StateKind } from './committer.js';
import { closedError, lineOf, type StoreCore } from './core.js';
import type { FailedEntry, QueueEntry, RegistryEntry } from './entries.js';
import { invalidOption, messageOf } from './errors.js';
import { FailedList } from './failed-list.js';
import {
  parseFailedFile,
  parseRegistryFile,
  serialiseList,
  serialiseRegistry,
  type ParsedFile,
} from './formats.js';
import { loadQueueFile, loadStateFile } from './load.js';
import { stderrLogger, type Logger } from './logger.js';
import { resolvePaths, type StatePaths, type StatePathsOptions } from './options.js';
import { UploadQueue } from './queue.js';
import { ProcessedRegistry } from './registry.js';
import { readPendingRequests } from './requests.js';

/** Options of `openStateStore()`. Give `directory`, or `queueFile` (and optionally the other files). */
export interface StateStoreOptions extends StatePathsOptions {
  /** @default systemClock */
  clock?: Clock;
  /** @default warnings and errors to stderr */
  logger?: Logger;
  /** Registry records older than this many days are pruned. @default 30 */
  registryRetentionDays?: number;
  /** While running, `registry.mark()` prunes at most this often (ms). @default 3_600_000 */
  pruneIntervalMs?: number;
  /**
   * How long an idle store waits after a first change before writing, to gather more changes into the write.
   * 0 still gathers the changes of the current event-loop turn, and a busy store gathers everything that
   * arrives during the previous write. @default 0
   */
  commitDelayMs?: number;
}

/** What `pollRequests()` did. */
export interface RequestsResult {
  /** Request files applied and removed. */
  readonly applied: number;
  /** Failed entries moved back to the queue. */
  readonly requeued: number;
  /** Malformed request files, renamed to `<name>.invalid`. */
  readonly invalid: number;
}

/** An open state directory: the queue, the failed list and the registry, sharing one lock and one commit. */
export interface StateStore {
  readonly queue: UploadQueue;
  readonly failed: FailedList;
  readonly registry: ProcessedRegistry;
  readonly paths: StatePaths;
  /** Resolves once every change made so far is durable. Rejects with `WRITE_FAILED` if the write fails. */
  flush(): Promise<void>;
  /**
   * Applies the requests other processes left in the requests directory (see `requestRequeue()`), makes the
   * result durable, then deletes the request files. Call it on a timer; `openStateStore()` calls it once.
   */
  pollRequests(): Promise<RequestsResult>;
  /** Flushes, then releases the lock. Later mutations reject with `CLOSED`. Calling it twice is harmless. */
  close(): Promise<void>;
}

function checkOptions(options: StateStoreOptions): {
  retentionDays: number;
  pruneIntervalMs: number;
  delayMs: number;
} {
  const retentionDays = options.registryRetentionDays ?? 30;
  if (typeof retentionDays !== 'number' || Number.isNaN(retentionDays) || retentionDays < 0) {
    invalidOption('registryRetentionDays', 'a non-negative number', retentionDays);
  }
  const pruneIntervalMs = options.pruneIntervalMs ?? 3_600_000;
  if (typeof pruneIntervalMs !== 'number' || Number.isNaN(pruneIntervalMs) || pruneIntervalMs < 0) {
    invalidOption('pruneIntervalMs', 'a non-negative number', pruneIntervalMs);
  }
  const delayMs = options.commitDelayMs ?? 0;
  if (!Number.isFinite(delayMs) || delayMs < 0)
    invalidOption('commitDelayMs', 'a non-negative number', delayMs);
  const clock = options.clock;
  if (clock !== undefined && typeof clock?.now !== 'function') {
    invalidOption('clock', 'an object with now()', clock);
  }
  const logger = options.logger;
  if (logger !== undefined && (typeof logger?.warn !== 'function' || typeof logger?.error !== 'function')) {
    invalidOption('logger', 'an object with debug(), info(), warn() and error()', logger);
  }
  return { retentionDays, pruneIntervalMs, delayMs };
}

function reportProblems(logger: Logger, file: string, parsed: ParsedFile<unknown>): void {
  const { problems } = parsed;
  if (problems.length === 0) return;
  const shown = problems.slice(0, 3).join('; ');
  const more = problems.length > 3 ? `; and ${problems.length - 3} more` : '';
  logger.warn(`${basename(file)}: ${problems.length} problem(s) while loading: ${shown}${more}`);
}

/**
 * Opens a state directory: takes its lock, loads the three files (recovering from corrupt ones, converting the
 * old daemon's formats), applies pending requests and writes back whatever needed rewriting.
 * @throws TypeError for invalid options.
 * @throws QueueError `LOCKED` when another live process holds the directory (the message names its pid),
 *   `READ_FAILED` when a file exists but cannot be read, `WRITE_FAILED` when the directory is not writable.
 */
export async function openStateStore(options: StateStoreOptions): Promise<StateStore> {
  const paths = resolvePaths(options);
  const { retentionDays, pruneIntervalMs, delayMs } = checkOptions(options);
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? stderrLogger;

  const locks: HeldLock[] = [];
  const releaseAll = async () => {
    for (const lock of locks.splice(0).reverse()) await lock.release();
  };
  try {
    for (const lockFile of paths.lockFiles) {
      await ensureDirectory(dirname(lockFile));
      locks.push(await acquireLock(lockFile, new Date(clock.now()), (m) => logger.warn(m)));
    }
    // Leftovers of a write interrupted by a crash; the real files are intact.
    for (const file of [paths.queueFile, paths.failedFile, paths.registryFile]) {
      await removeFile(`${file}.tmp`);
      await removeFile(`${file}.bak.tmp`);
    }
    const now = clock.now();
    const loadOptions = { readOnly: false, now, logger };
    const queueLoaded = await loadQueueFile(paths.queueFile, loadOptions);
    const failedLoaded = await loadStateFile(paths.failedFile, parseFailedFile, loadOptions);
    const registryLoaded = await loadStateFile(paths.registryFile, parseRegistryFile, loadOptions);
    reportProblems(logger, paths.queueFile, queueLoaded.parsed);
    reportProblems(logger, paths.failedFile, failedLoaded.parsed);
    reportProblems(logger, paths.registryFile, registryLoaded.parsed);
    if (queueLoaded.parsed.legacy) {
      logger.info(
        `${basename(paths.queueFile)}: converted the old daemon's format (${queueLoaded.parsed.entries.length} entries)`,
      );
    }

    const store = new Store(paths, clock, logger, delayMs, retentionDays, pruneIntervalMs, releaseAll);
    const initial = store.load(queueLoaded.parsed, failedLoaded.parsed, registryLoaded.parsed);
    if (initial.length > 0) void store.core.changed(...initial);
    await store.pollRequests();
    await store.flush();
    return store;
  } catch (error) {
    await releaseAll();
    throw error;
  }
}

class Store implements StateStore {
  readonly queue: UploadQueue;
  readonly failed: FailedList;
  readonly registry: ProcessedRegistry;
  readonly paths: StatePaths;
  readonly core: StoreCore;
  readonly #logger: Logger;
  readonly #committer: GroupCommitter;
  readonly #release: () => Promise<void>;
  #queueEntries = new Map<string, QueueEntry>();
  readonly #failedEntries = new Map<string, FailedEntry>();
  /** Requeued entries whose move is not durable yet: they stay in `failed.json` until `queue.json` has them. */
  #requeued = new Map<string, FailedEntry>();
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(
    paths: StatePaths,
    clock: Clock,
    logger: Logger,
    delayMs: number,
    retentionDays: number,
    pruneIntervalMs: number,
    release: () => Promise<void>,
  ) {
    this.paths = paths;
    this.#logger = logger;
    this.#release = release;
    this.#committer = new GroupCommitter((kinds) => this.#write(kinds), delayMs);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the getter below needs the store, not the object
    const store = this;
    this.core = {
      clock,
      get queueEntries() {
        return store.#queueEntries;
      },
      failedEntries: this.#failedEntries,
      changed: (...kinds) => this.#committer.changed(...kinds),
      flush: () => this.#committer.flush(),
      assertOpen: () => {
        if (this.#closed) throw closedError();
      },
      noteRequeued: (entry) => this.#requeued.set(entry.filepath, entry),
    };
    this.queue = new UploadQueue(this.core);
    this.failed = new FailedList(this.core);
    this.registry = new ProcessedRegistry(this.core, retentionDays, pruneIntervalMs);
  }

  /** Fills memory from the loaded files; returns the kinds that must be written back. */
  load(
    queue: ParsedFile<QueueEntry>,
    failed: ParsedFile<FailedEntry>,
    registry: ParsedFile<RegistryEntry>,
  ): StateKind[] {
    const kinds = new Set<StateKind>();
    if (queue.byPath) this.#queueEntries = queue.byPath;
    else for (const entry of queue.entries) this.#queueEntries.set(entry.filepath, entry);
    if (queue.needsRewrite) kinds.add('queue');
    let both = 0;
    for (const entry of failed.entries) {
      // On both lists: a move was interrupted by a crash, or an operator put the file back into queue.json by
      // hand (the runbook's "Option 3"). Either way the queue wins: one more attempt is safer than none.
      if (this.#queueEntries.has(entry.filepath)) both++;
      else this.#failedEntries.set(entry.filepath, entry);
    }
    if (both > 0) {
      this.#logger.warn(`${both} file(s) were both queued and failed; kept them in the queue`);
      kinds.add('failed');
    }
    if (failed.needsRewrite) kinds.add('failed');
    this.registry.load(registry.entries);
    if (registry.needsRewrite) kinds.add('registry');
    if (this.registry.pruneInMemory(this.core.clock.now()) > 0) kinds.add('registry');
    return [...kinds];
  }

  flush(): Promise<void> {
    return this.#committer.flush();
  }

  async pollRequests(): Promise<RequestsResult> {
    this.core.assertOpen();
    const pending = await readPendingRequests(this.paths.requestsDirectory);
    if (pending.length === 0) return { applied: 0, requeued: 0, invalid: 0 };
    const moves: Promise<number>[] = [];
    let invalid = 0;
    for (const item of pending) {
      if (item.request) moves.push(this.failed.requeue(item.request.target));
    }
    const requeued = (await Promise.all(moves)).reduce((a, b) => a + b, 0);
    await this.flush();
    // Only now, with the requeue durable, may the requests go; a crash before this line applies them again,
    // which is harmless (requeueing twice moves nothing the second time).
    for (const item of pending) {
      if (item.request) {
        await removeFile(item.file);
      } else {
        invalid++;
        this.#logger.warn(
          `Ignored the request ${item.file}: ${item.problem ?? 'invalid'}; renamed it to .invalid`,
        );
        await renameFile(item.file, `${item.file}.invalid`).catch(() => undefined);
      }
    }
    if (moves.length > 0)
      this.#logger.info(`Applied ${moves.length} requeue request(s): ${requeued} file(s) requeued`);
    return { applied: moves.length, requeued, invalid };
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    try {
      await this.#committer.flush();
    } finally {
      await this.#release();
    }
  }

  /**
   * Serialises the dirty files synchronously, then writes them in an order that keeps every moved entry in at
   * least one file at every moment: the registry before the queue (mark, then remove), the failed list before
   * the queue (move to failed), and for a requeue the queue before the failed list (so `failed.json` is
   * written first with the requeued entries still in it, and again without them after `queue.json`).
   */
  #write(kinds: ReadonlySet<StateKind>): Promise<void> {
    const registryText = kinds.has('registry') ? serialiseRegistry(this.registry.values()) : undefined;
    const requeued = this.#requeued;
    this.#requeued = new Map();
    let failedFinal: string | undefined;
    let failedFirst: string | undefined;
    if (kinds.has('failed')) {
      const lines: string[] = [];
      for (const entry of this.#failedEntries.values()) lines.push(lineOf(entry));
      failedFinal = serialiseList(lines);
      if (requeued.size > 0) {
        for (const entry of requeued.values())
          if (!this.#failedEntries.has(entry.filepath)) lines.push(lineOf(entry));
        failedFirst = serialiseList(lines);
      } else {
        failedFirst = failedFinal;
      }
    }
    let queueText: string | undefined;
    if (kinds.has('queue')) {
      const lines: string[] = [];
      for (const entry of this.#queueEntries.values()) lines.push(lineOf(entry));
      queueText = serialiseList(lines);
    }
    return (async () => {
      try {
        if (registryText !== undefined) await writeDurably(this.paths.registryFile, registryText);
        if (failedFirst !== undefined) await writeDurably(this.paths.failedFile, failedFirst);
        if (queueText !== undefined) await writeDurably(this.paths.queueFile, queueText);
        if (failedFinal !== undefined && failedFinal !== failedFirst)
          await writeDurably(this.paths.failedFile, failedFinal);
      } catch (error) {
        for (const [path, entry] of requeued) if (!this.#requeued.has(path)) this.#requeued.set(path, entry);
        this.#logger.error(`Writing the state failed; will retry with the next change: ${messageOf(error)}`);
        throw error;
      }
    })();
  }
}
