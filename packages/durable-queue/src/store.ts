import { basename, dirname, join } from 'node:path';
import {
  ensureDirectory,
  isTempOf,
  keepCopy,
  listDirectory,
  readTextIfExists,
  removeFile,
  renameFile,
  statIfExists,
  writeFileAtomic,
} from './adapters/files.js';
import { acquireLock, type HeldLock } from './adapters/lock.js';
import { systemClock, type Clock } from './clock.js';
import { GroupCommitter, type StateKind } from './committer.js';
import { closedError, type StoreCore } from './core.js';
import type { FailedEntry, QueueEntry, RegistryEntry } from './entries.js';
import { QueueError, invalidOption, messageOf } from './errors.js';
import { FailedList } from './failed-list.js';
import {
  CorruptFileError,
  parseFailedFile,
  parseQueueFile,
  parseRegistryFile,
  listChunks,
  registryChunks,
  type ParsedFile,
} from './formats.js';
import { sameVersion, type FileIdentity } from './identity.js';
import { JournalWriter, journalFileOf, readJournal, type ParsedJournal } from './journal.js';
import { loadQueueFile, loadStateFile } from './load.js';
import { stderrLogger, type Logger } from './logger.js';
import { resolvePaths, type StatePaths, type StatePathsOptions } from './options.js';
import { UploadQueue } from './queue.js';
import { ProcessedRegistry } from './registry.js';
import { mergeEdit } from './merge.js';
import { readPendingRequests } from './requests.js';
import { LineRuns } from './runs.js';

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
  /**
   * A write that fails (a full disk) is retried after this long (real time, as `commitDelayMs`), then after
   * twice as long each time, up to `maxRetryDelayMs`. @default 1000
   */
  retryDelayMs?: number;
  /** The longest wait between two attempts of a failing write. @default 30_000 */
  maxRetryDelayMs?: number;
}

/** Why the state cannot be written right now (`store.writeProblem`). */
export interface WriteProblem {
  /** The last write's error message (`Cannot write /var/lib/tvm-upload/queue.json: ENOSPC: ...`). */
  readonly error: string;
  /** The system error code, when there is one (`ENOSPC`, `EDQUOT`, `EROFS`, `EIO`, ...). */
  readonly code?: string;
  /** When the first write of this run of failures failed (epoch ms, the store's clock). */
  readonly since: number;
  /** Failed attempts in a row. */
  readonly failures: number;
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
  /**
   * Set while the state cannot be written (disk full, read-only, I/O error): the state is kept in memory and the
   * write retried with backoff; `undefined` once a write succeeds again. For health and status reports.
   */
  readonly writeProblem: WriteProblem | undefined;
  /**
   * Resolves once every change made so far is durable. While writes fail it waits (they are retried); it never
   * rejects for a write failure while the store is open.
   */
  flush(): Promise<void>;
  /**
   * Merges edits made to `queue.json` or `failed.json` outside the store since it last wrote them (see "Edits
   * while running" in the README), then applies the requests other processes left in the requests directory
   * (see `requestRequeue()`), makes the result durable and deletes the request files. Call it on a timer (the
   * agent does every 5 s); `openStateStore()` calls it once. While `writeProblem` is set the requests wait (they
   * are applied by a later call once writes succeed) and it resolves at once.
   */
  pollRequests(): Promise<RequestsResult>;
  /**
   * Makes one last attempt to write what is pending (no backoff), then releases the lock. When that write fails
   * too, one error line says what is lost and the mutations still waiting reject with `WRITE_FAILED`; `close()`
   * itself resolves. Later mutations reject with `CLOSED`. Calling it twice is harmless.
   */
  close(): Promise<void>;
}

interface Checked {
  retentionDays: number;
  pruneIntervalMs: number;
  delayMs: number;
  retryDelayMs: number;
  maxRetryDelayMs: number;
}

function checkOptions(options: StateStoreOptions): Checked {
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
  const retryDelayMs = options.retryDelayMs ?? 1000;
  if (!Number.isFinite(retryDelayMs) || retryDelayMs <= 0)
    invalidOption('retryDelayMs', 'a positive number', retryDelayMs);
  const maxRetryDelayMs = options.maxRetryDelayMs ?? 30_000;
  if (!Number.isFinite(maxRetryDelayMs) || maxRetryDelayMs < retryDelayMs)
    invalidOption('maxRetryDelayMs', 'a number no smaller than `retryDelayMs`', maxRetryDelayMs);
  const clock = options.clock;
  if (clock !== undefined && typeof clock?.now !== 'function') {
    invalidOption('clock', 'an object with now()', clock);
  }
  const logger = options.logger;
  if (logger !== undefined && (typeof logger?.warn !== 'function' || typeof logger?.error !== 'function')) {
    invalidOption('logger', 'an object with debug(), info(), warn() and error()', logger);
  }
  return { retentionDays, pruneIntervalMs, delayMs, retryDelayMs, maxRetryDelayMs };
}

function reportProblems(logger: Logger, file: string, parsed: ParsedFile<unknown>): void {
  const { problems } = parsed;
  if (problems.length === 0) return;
  const shown = problems.slice(0, 3).join('; ');
  const more = problems.length > 3 ? `; and ${problems.length - 3} more` : '';
  logger.warn(`${basename(file)}: ${problems.length} problem(s) while loading: ${shown}${more}`);
}

function reportJournal(logger: Logger, file: string, journal: ParsedJournal): void {
  if (journal.torn)
    logger.info(`${basename(file)}: ignored a last line cut short by a crash (an append never acknowledged)`);
  if (journal.problems.length > 0)
    logger.warn(
      `${basename(file)}: ${journal.problems.length} line(s) skipped: ${journal.problems.slice(0, 3).join('; ')}`,
    );
}

/**
 * The registry journal is compacted (the snapshot rewritten, the journal emptied) once it holds more change
 * lines than this many, or than a quarter of the records, whichever is more; and at open and close.
 */
export const JOURNAL_MIN_RECORDS = 1000;
const JOURNAL_RATIO = 0.25;

/** How often a write that keeps failing is logged again (the first failure always is). */
const PROBLEM_LOG_INTERVAL_MS = 60_000;

const codeOf = (error: unknown): string | undefined => {
  let current: unknown = error;
  for (let depth = 0; depth < 3 && typeof current === 'object' && current !== null; depth++) {
    if (!(current instanceof QueueError) && 'code' in current) return String(current.code);
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
};

const timestamp = (now: number) => new Date(now).toISOString().replace(/[:.]/g, '-');

/** Removes the temp files of interrupted writes of the state files (the store holds the lock: none is live). */
async function removeTempFiles(paths: StatePaths): Promise<void> {
  const files = [paths.queueFile, paths.failedFile, paths.registryFile, journalFileOf(paths.registryFile)];
  for (const dir of new Set(files.map((file) => dirname(file)))) {
    const names = await listDirectory(dir);
    for (const file of files) {
      if (dirname(file) !== dir) continue;
      for (const name of names) if (isTempOf(basename(file), name)) await removeFile(join(dir, name));
    }
  }
}

/**
 * Opens a state directory: takes its lock, loads the three files (recovering from corrupt ones, converting the
 * old daemon's formats), applies pending requests and writes back whatever needed rewriting. It opens on a full
 * disk too: the lock is rewritten in place (or, with no lock file yet, held in memory with a warning), and what
 * needs writing waits in memory, retried, with `writeProblem` set.
 * @throws TypeError for invalid options.
 * @throws QueueError `LOCKED` when another live process holds the directory (the message names its pid),
 *   `READ_FAILED` when a file exists but cannot be read, `WRITE_FAILED` when the directory cannot be created or
 *   the lock file cannot be written for another reason than a lack of space.
 */
export async function openStateStore(options: StateStoreOptions): Promise<StateStore> {
  const paths = resolvePaths(options);
  const checked = checkOptions(options);
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? stderrLogger;

  const locks: HeldLock[] = [];
  const releaseAll = async () => {
    for (const lock of locks.splice(0).reverse()) await lock.release();
  };
  try {
    for (const lockFile of paths.lockFiles) {
      await ensureDirectory(dirname(lockFile));
      locks.push(
        await acquireLock(lockFile, new Date(clock.now()), {
          stale: (m) => logger.warn(m),
          unwritable: (m) => logger.warn(m),
        }),
      );
    }
    // Leftovers of a write interrupted by a crash (or cut short by a full disk); the real files are intact.
    await removeTempFiles(paths);
    const now = clock.now();
    const loadOptions = { readOnly: false, now, logger };
    const queueLoaded = await loadQueueFile(paths.queueFile, loadOptions);
    const failedLoaded = await loadStateFile(paths.failedFile, parseFailedFile, loadOptions);
    const registryLoaded = await loadStateFile(paths.registryFile, parseRegistryFile, loadOptions);
    const journal = await readJournal(journalFileOf(paths.registryFile), now);
    reportProblems(logger, paths.queueFile, queueLoaded.parsed);
    reportProblems(logger, paths.failedFile, failedLoaded.parsed);
    reportProblems(logger, paths.registryFile, registryLoaded.parsed);
    if (journal) reportJournal(logger, journalFileOf(paths.registryFile), journal);
    if (queueLoaded.parsed.legacy) {
      logger.info(
        `${basename(paths.queueFile)}: converted the old daemon's format (${queueLoaded.parsed.entries.length} entries)`,
      );
    }

    const store = new Store(paths, clock, logger, checked, releaseAll, locks);
    const initial = store.load(queueLoaded.parsed, failedLoaded.parsed, registryLoaded.parsed, journal);
    await store.noteLoaded(
      queueLoaded.source === 'file' ? queueLoaded.parsed.entries : undefined,
      failedLoaded.source === 'file' ? failedLoaded.parsed.entries : undefined,
    );
    // Durable later; a failed write is the committer's to report (writeProblem and its log lines).
    if (initial.length > 0) store.core.changed(...initial).catch(() => undefined);
    await store.pollRequests();
    // On a full disk the rewrite waits in memory (writeProblem is set); the store opens all the same.
    if (store.writeProblem === undefined) await store.flush();
    return store;
  } catch (error) {
    await releaseAll();
    throw error;
  }
}

/** What the store last wrote to (or loaded from) a list file: how it knows whether anyone else wrote it since. */
interface Written<T> {
  /** The file's identity right after that write; `undefined` when there was no file. */
  identity: FileIdentity | undefined;
  /** The entries it held (the merge's base). */
  entries: readonly T[];
}

type ListKind = 'queue' | 'failed';

class Store implements StateStore {
  readonly queue: UploadQueue;
  readonly failed: FailedList;
  readonly registry: ProcessedRegistry;
  readonly paths: StatePaths;
  readonly core: StoreCore;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #committer: GroupCommitter;
  readonly #release: () => Promise<void>;
  #queueEntries = new Map<string, QueueEntry>();
  readonly #failedEntries = new Map<string, FailedEntry>();
  /** Requeued entries whose move is not durable yet: they stay in `failed.json` until `queue.json` has them. */
  #requeued = new Map<string, FailedEntry>();
  #closed = false;
  #closing: Promise<void> | undefined;
  #problem: WriteProblem | undefined;
  #problemLoggedAt = -Infinity;
  readonly #written: { queue: Written<QueueEntry>; failed: Written<FailedEntry> } = {
    queue: { identity: undefined, entries: [] },
    failed: { identity: undefined, entries: [] },
  };
  #absorbing: Promise<StateKind[]> | undefined;
  /** The list files' lines, cached by runs of entries: a rewrite serialises only the runs that changed. */
  readonly #runs: Record<ListKind, LineRuns> = { queue: new LineRuns(), failed: new LineRuns() };
  /** The locks; one held in memory only (a full disk at open) gets its file after the first successful write. */
  readonly #locks: readonly HeldLock[];
  readonly #lockWarned = new Set<string>();
  #writing = false;
  /** The registry's journal, its snapshot's generation, and whether the next registry write must be a snapshot. */
  readonly #journal: JournalWriter;
  #generation = 0;
  #compactWanted = false;
  /** A compaction under way in the background (its snapshot being written), off the commit path. */
  #compaction: Promise<void> | undefined;
  /** A background snapshot made durable: the next registry write drops the journal's head up to `cut`. */
  #snapshotDone: { generation: number; cut: { bytes: number; records: number } } | undefined;
  /** After a background compaction failed, the next waits until the journal holds this many change lines. */
  #compactRetryAt = 0;

  constructor(
    paths: StatePaths,
    clock: Clock,
    logger: Logger,
    checked: Checked,
    release: () => Promise<void>,
    locks: readonly HeldLock[],
  ) {
    this.paths = paths;
    this.#locks = locks;
    this.#logger = logger;
    this.#clock = clock;
    this.#release = release;
    this.#journal = new JournalWriter(journalFileOf(paths.registryFile), 0, 0);
    this.#committer = new GroupCommitter(
      (kinds) => this.#write(kinds),
      checked.delayMs,
      { initialDelayMs: checked.retryDelayMs, maxDelayMs: checked.maxRetryDelayMs },
      {
        failed: (error, failures, retryInMs) => this.#writeFailed(error, failures, retryInMs),
        recovered: (failures) => this.#writeRecovered(failures),
      },
    );
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
    this.registry = new ProcessedRegistry(this.core, checked.retentionDays, checked.pruneIntervalMs);
  }

  get writeProblem(): WriteProblem | undefined {
    return this.#problem;
  }

  /** Fills memory from the loaded files; returns the kinds that must be written back. */
  load(
    queue: ParsedFile<QueueEntry>,
    failed: ParsedFile<FailedEntry>,
    registry: ParsedFile<RegistryEntry>,
    journal?: ParsedJournal,
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
    this.registry.load(registry.entries, journal?.ops);
    this.#generation = Math.max(registry.generation ?? 0, journal?.generation ?? 0);
    // A journal with changes (or damage) is folded into the snapshot at once: open starts with an empty journal.
    if (
      registry.needsRewrite ||
      (journal && (journal.ops.length > 0 || journal.torn || journal.problems.length > 0))
    ) {
      this.#compactWanted = true;
      kinds.add('registry');
    }
    if (journal) this.#journal.adopt(journal.bytes, journal.ops.length);
    if (this.registry.pruneInMemory(this.core.clock.now()) > 0) kinds.add('registry');
    return [...kinds];
  }

  /** Remembers what the list files held at open (the entries as loaded from the file itself, when they were). */
  async noteLoaded(
    queue: readonly QueueEntry[] | undefined,
    failed: readonly FailedEntry[] | undefined,
  ): Promise<void> {
    const queueIdentity = await statIfExists(this.paths.queueFile);
    const failedIdentity = await statIfExists(this.paths.failedFile);
    this.#written.queue = { identity: queue && queueIdentity, entries: queue ?? [] };
    this.#written.failed = { identity: failed && failedIdentity, entries: failed ?? [] };
  }

  /** The changes made so far durable, and a compaction under way finished (its journal head dropped). */
  async flush(): Promise<void> {
    await this.#committer.flush();
    while (this.#compaction) {
      await this.#compaction;
      await this.#committer.flush();
    }
  }

  async pollRequests(): Promise<RequestsResult> {
    this.core.assertOpen();
    const none = { applied: 0, requeued: 0, invalid: 0 };
    // A write merges edits itself before it writes; checking during one would take its own file for an edit.
    if (!this.#writing) {
      const kinds = await this.#absorbEdits();
      // Durable later; a failed write is the committer's to report (writeProblem and its log lines).
      if (kinds.length > 0) this.core.changed(...kinds).catch(() => undefined);
    }
    // Applying a request waits for its write: on a failing disk the requests wait in their files instead.
    if (this.#problem !== undefined) return none;
    const pending = await readPendingRequests(this.paths.requestsDirectory);
    if (pending.length === 0) return none;
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
      await this.#committer.close();
      await this.#compaction;
      if (this.#journal.records > 0 || this.#compactWanted || this.#snapshotDone) {
        // Not a loss when it fails: the journal holds every change, and the next open replays it.
        await this.#compact(this.registry.takeJournal()).catch((error: unknown) =>
          this.#logger.warn(
            `Could not compact the registry at close (its journal keeps the changes): ${messageOf(error)}`,
          ),
        );
      }
    } catch (error) {
      this.#logger.error(
        `Closing without writing the state (${messageOf(error)}): the changes made since ` +
          `${new Date(this.#problem?.since ?? this.#clock.now()).toISOString()} are lost`,
      );
    } finally {
      await this.#journal.close();
      await this.#release();
    }
  }

  /** Whether the journal has outgrown its bound, so a background compaction should start. */
  #compactionDue(): boolean {
    if (this.#compaction || this.#snapshotDone || this.#journal.records < this.#compactRetryAt) return false;
    return this.#journal.records > Math.max(JOURNAL_MIN_RECORDS, this.registry.size * JOURNAL_RATIO);
  }

  /**
   * Writes the registry snapshot and then empties the journal, within the write (at open, at close, after damage
   * to the journal). `taken` are the journal lines the snapshot supersedes; they are put back if the snapshot
   * cannot be written.
   */
  #compact(taken: string[]): Promise<void> {
    return (async () => {
      // A background compaction finishing meanwhile would write the same generation: this one supersedes it.
      await this.#compaction;
      this.#snapshotDone = undefined;
      const generation = this.#generation + 1;
      const chunks = registryChunks([...this.registry.values()], generation);
      try {
        await writeFileAtomic(this.paths.registryFile, chunks, { backup: true });
      } catch (error) {
        this.registry.restoreJournal(taken);
        this.#compactWanted = true;
        throw error;
      }
      this.#generation = generation;
      this.#compactWanted = false;
      // The snapshot holds everything: a journal left as it was replays harmlessly over it.
      await this.#journal
        .reset(generation)
        .catch((error: unknown) =>
          this.#logger.warn(`Cannot empty the registry journal (it replays harmlessly): ${messageOf(error)}`),
        );
    })();
  }

  /**
   * The registry's part of a write: an append of its journal lines (after dropping the head of the journal that a
   * finished background compaction made redundant); a compaction within the write only at open or after damage.
   * When the journal outgrows its bound, a compaction starts in the background: the commit does not wait for it.
   */
  #writeRegistry(): Promise<void> {
    const lines = this.registry.takeJournal();
    if (this.#compactWanted || !this.#journal.clean) return this.#compact(lines);
    return (async () => {
      const done = this.#snapshotDone;
      if (done) {
        this.#snapshotDone = undefined;
        await this.#journal
          .restart(done.generation, done.cut)
          .catch((error: unknown) =>
            this.#logger.warn(
              `Cannot drop the compacted head of the registry journal (it replays harmlessly): ${messageOf(error)}`,
            ),
          );
      }
      try {
        await this.#journal.append(lines, this.#generation);
      } catch (error) {
        this.registry.restoreJournal(lines);
        throw error;
      }
      if (this.#compactionDue()) this.#compactInBackground();
    })();
  }

  /**
   * Compacts without holding up commits: the journal's end is noted now (no append is under way: this runs inside
   * the write), the snapshot is serialised on a later turn of the event loop from memory (which holds every change
   * up to that point, and maybe later ones: those replay harmlessly) and written while appends go on; the next
   * write then replaces the journal with the appends made since (`JournalWriter.restart`).
   */
  #compactInBackground(): void {
    const cut = { bytes: this.#journal.bytes, records: this.#journal.records };
    const generation = this.#generation + 1;
    this.#compaction = (async () => {
      try {
        await new Promise((resolve) => setImmediate(resolve));
        // The records of this moment; their lines are made as the chunks are written.
        const chunks = registryChunks([...this.registry.values()], generation);
        await writeFileAtomic(this.paths.registryFile, chunks, { backup: true });
        this.#generation = generation;
        this.#snapshotDone = { generation, cut };
        // Dropping the journal's head is the next write's business; ask for one (at close, the last compaction
        // supersedes it).
        if (!this.#closed) this.#committer.changed('registry').catch(() => undefined);
      } catch (error) {
        this.#compactRetryAt = this.#journal.records + JOURNAL_MIN_RECORDS;
        this.#logger.warn(
          `Could not compact the registry (its journal keeps every change; trying again after ${JOURNAL_MIN_RECORDS} more): ${messageOf(error)}`,
        );
      } finally {
        this.#compaction = undefined;
      }
    })();
  }

  #writeFailed(error: unknown, failures: number, retryInMs: number): void {
    const now = this.#clock.now();
    const code = codeOf(error);
    const since = this.#problem?.since ?? now;
    this.#problem = { error: messageOf(error), ...(code ? { code } : {}), since, failures };
    if (failures === 1) {
      this.#problemLoggedAt = now;
      this.#logger.error(
        `Writing the state failed; keeping it in memory and retrying (first retry in ${retryInMs} ms): ${messageOf(error)}`,
      );
    } else if (now - this.#problemLoggedAt >= PROBLEM_LOG_INTERVAL_MS) {
      this.#problemLoggedAt = now;
      this.#logger.error(
        `Still cannot write the state (${failures} attempts since ${new Date(since).toISOString()}; ` +
          `next in ${retryInMs} ms): ${messageOf(error)}`,
      );
    }
  }

  #writeRecovered(failures: number): void {
    const since = this.#problem?.since ?? this.#clock.now();
    this.#problem = undefined;
    this.#problemLoggedAt = -Infinity;
    this.#logger.info(
      `Writing the state works again after ${failures} failed attempt(s) since ${new Date(since).toISOString()}`,
    );
  }

  /** Merges outside edits of both list files (one check at a time); returns the kinds memory changed in. */
  #absorbEdits(): Promise<StateKind[]> {
    this.#absorbing ??= (async () => {
      try {
        const kinds = new Set<StateKind>();
        for (const kind of ['queue', 'failed'] as const)
          for (const k of await this.#absorb(kind)) kinds.add(k);
        return [...kinds];
      } catch (error) {
        // A check that cannot read (permissions) must not stop the write: ours goes to disk as before.
        this.#logger.warn(`Cannot check the state files for outside edits: ${messageOf(error)}`);
        return [];
      } finally {
        this.#absorbing = undefined;
      }
    })();
    return this.#absorbing;
  }

  async #absorb(kind: ListKind): Promise<StateKind[]> {
    const file = kind === 'queue' ? this.paths.queueFile : this.paths.failedFile;
    const written = this.#written[kind];
    const identity = await statIfExists(file);
    if (identity === undefined) {
      if (written.identity === undefined) return [];
      this.#written[kind] = { identity: undefined, entries: [] };
      this.#logger.warn(`${basename(file)} was removed outside the agent; writing it again from memory`);
      return [kind];
    }
    if (written.identity !== undefined && sameVersion(identity, written.identity)) return [];
    const text = await readTextIfExists(file);
    if (text === undefined) return [];
    const now = this.#clock.now();
    let parsed: ParsedFile<QueueEntry> | ParsedFile<FailedEntry>;
    let reason: string | undefined;
    try {
      parsed = kind === 'queue' ? parseQueueFile(text, now) : parseFailedFile(text, now);
      if ((parsed.skipped ?? 0) > 0)
        reason = parsed.problems.filter((p) => / at index \d+ skipped/.test(p))[0];
    } catch (error) {
      if (!(error instanceof CorruptFileError)) throw error;
      reason = error.message;
      parsed = { entries: [], problems: [], needsRewrite: true, legacy: false };
    }
    if (reason !== undefined) {
      // Not merged: half an edit could drop entries. Kept for the operator, and memory's version written back.
      this.#written[kind] = { identity, entries: [] };
      const copy = await keepCopy(file, `rejected-edit-${timestamp(now)}`).catch(
        (error: unknown) => `nowhere (${messageOf(error)})`,
      );
      this.#logger.warn(
        `${basename(file)} was edited outside the agent, but the edit is unusable (${reason}); ` +
          `kept it as ${copy}, merged nothing and writing the file again from memory`,
      );
      return [kind];
    }
    const base = new Map(written.entries.map((entry) => [entry.filepath, entry] as const));
    const theirs = new Map(parsed.entries.map((entry) => [entry.filepath, entry] as const));
    const result =
      kind === 'queue'
        ? mergeEdit(base as Map<string, QueueEntry>, theirs as Map<string, QueueEntry>, this.#queueEntries)
        : mergeEdit(
            base as Map<string, FailedEntry>,
            theirs as Map<string, FailedEntry>,
            this.#failedEntries,
          );
    (this.#written[kind] as Written<unknown>) = { identity, entries: parsed.entries };
    if (result.added + result.changed + result.removed === 0) return [];
    const kinds = new Set<StateKind>([kind]);
    // As at open, a path on both lists stays queued: one more attempt is safer than none.
    let both = 0;
    for (const path of result.taken) {
      if (this.#queueEntries.has(path) && this.#failedEntries.delete(path)) both++;
    }
    if (both > 0) kinds.add('failed');
    this.#logger.info(
      `${basename(file)} was edited outside the agent: merged ${result.added} added, ${result.changed} changed ` +
        `and ${result.removed} removed entr${result.added + result.changed + result.removed === 1 ? 'y' : 'ies'}` +
        (both > 0 ? ` (${both} of them were on the failed list too and stay queued)` : ''),
    );
    for (const problem of parsed.problems.slice(0, 3)) this.#logger.warn(`${basename(file)}: ${problem}`);
    return [...kinds];
  }

  /**
   * Merges outside edits first, then takes the entries of the dirty files synchronously (their lines are made as
   * the files are written, in chunks) and writes them in an order that
   * keeps every moved entry in at least one file at every moment: the registry before the queue (mark, then
   * remove), the failed list before the queue (move to failed), and for a requeue the queue before the failed list
   * (so `failed.json` is written first with the requeued entries still in it, and again without them after
   * `queue.json`).
   */
  async #write(dirty: ReadonlySet<StateKind>): Promise<void> {
    this.#writing = true;
    try {
      const kinds = new Set(dirty);
      for (const kind of await this.#absorbEdits()) kinds.add(kind);
      await this.#writeKinds(kinds);
    } finally {
      this.#writing = false;
    }
    for (const lock of this.#locks) {
      if (lock.persisted) continue;
      const why = await lock.persist();
      if (why === undefined)
        this.#logger.info(`Wrote the lock file ${lock.path} now that the disk has space`);
      else if (!this.#lockWarned.has(lock.path)) {
        this.#lockWarned.add(lock.path);
        this.#logger.warn(`Still holding the lock ${lock.path} in memory only: ${why}`);
      }
    }
  }

  #writeKinds(kinds: ReadonlySet<StateKind>): Promise<void> {
    // Serialised (or its lines taken) now, with the rest, so the write holds the state of this moment.
    const registry = kinds.has('registry') ? this.#writeRegistry() : undefined;
    // Awaited in order below; a rejection before then must not count as unhandled.
    registry?.catch(() => undefined);
    const requeued = this.#requeued;
    this.#requeued = new Map();
    // The entries (frozen, replaced on change) are taken now; their lines are made as the chunks are written.
    let failedFinal: FailedEntry[] | undefined;
    let failedFirst: FailedEntry[] | undefined;
    if (kinds.has('failed')) {
      failedFinal = [...this.#failedEntries.values()];
      failedFirst = failedFinal;
      for (const entry of requeued.values()) {
        if (this.#failedEntries.has(entry.filepath)) continue;
        if (failedFirst === failedFinal) failedFirst = [...failedFinal];
        failedFirst.push(entry);
      }
    }
    const queue = kinds.has('queue') ? [...this.#queueEntries.values()] : undefined;
    return (async () => {
      try {
        if (registry !== undefined) await registry;
        if (failedFirst !== undefined) await this.#writeList('failed', failedFirst);
        if (queue !== undefined) await this.#writeList('queue', queue);
        // Written again without the requeued entries only when the first write had some.
        if (failedFinal !== undefined && failedFinal !== failedFirst)
          await this.#writeList('failed', failedFinal);
      } catch (error) {
        for (const [path, entry] of requeued) if (!this.#requeued.has(path)) this.#requeued.set(path, entry);
        throw error;
      }
    })();
  }

  /** Writes a list file in chunks straight to its temp file (a 100,000-entry queue is never one 20 MB string). */
  async #writeList<T extends object>(kind: ListKind, entries: T[]): Promise<void> {
    const file = kind === 'queue' ? this.paths.queueFile : this.paths.failedFile;
    const identity = await writeFileAtomic(file, listChunks(this.#runs[kind].texts(entries)), {
      backup: true,
    });
    (this.#written[kind] as Written<T>) = { identity, entries };
  }
}
