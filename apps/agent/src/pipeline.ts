import { lstat } from 'node:fs/promises';
import { basename } from 'node:path';
import { classify, decide, retryDelayMs, type Classification } from '@tvm/error-classification';
import type { QueueEntry, StateStore, MultipartState as QueueMultipartState } from '@tvm/durable-queue';
import type { Metrics } from '@tvm/metrics';
import type { MultipartState, Uploader, UploadResult } from '@tvm/s3-uploader';
import type { Clock } from './clock.js';
import type { AgentLogger } from './logger.js';

/** Where a queued file belongs: its source name and the directory its key is relative to. */
export interface FileHome {
  source: string;
  root: string;
}

/** Options of {@link Pipeline}. */
export interface PipelineOptions {
  store: StateStore;
  /** The current uploader (a getter: the destination is rebuilt when credentials change). */
  uploader: () => Uploader;
  bucket: string;
  clock: Clock;
  logger: AgentLogger;
  metrics: Metrics;
  /** Files uploaded at once. */
  concurrency: number;
  order: 'oldest_first' | 'newest_first';
  retry: { maxRetries: number; initialDelayMs: number; maxDelayMs: number };
  /** The object key of a file version. */
  keyFor: (home: FileHome, filepath: string, mtimeMs: number) => string;
  /** Finds the configured directory of a queued file (legacy entries carry no source). */
  locate: (filepath: string, source: string | undefined) => FileHome | undefined;
  /** Longest wait between two probes of an unreachable destination. @default 300000 */
  maxProbeDelayMs?: number;
  /** How often a paused destination (credentials, access, bucket) is re-checked. @default 300000 */
  destinationRecheckMs?: number;
  /** Called when a run has drained the due queue (deletion policies, emergency check). */
  onRunEnd?: () => Promise<void>;
  /** Called when uploads pause or resume (the status file). */
  onPauseChange?: () => void;
}

/** Why uploads are not starting. */
export type PauseState =
  | { kind: 'outage'; since: number; confirmed: boolean; probes: number; message: string }
  | { kind: 'destination'; since: number; message: string };

/** What {@link Pipeline.status} reports. */
export interface PipelineStatus {
  inFlight: number;
  runActive: boolean;
  paused: PauseState | undefined;
}

const RETRIES_EXHAUSTED = 'retries-exhausted';

/** Seconds for the runbook's `(next attempt in Ns)`: whole seconds, or a fraction below one second. */
export function formatDelay(ms: number): string {
  if (ms >= 1000) return `${Math.round(ms / 1000)}s`;
  return `${Number((ms / 1000).toFixed(3))}s`;
}

/**
 * The upload pipeline: takes due entries from the queue, uploads each (one upload per file at a time, at most
 * `concurrency` at once), and writes every outcome into the state store. It never sleeps on a failure: a retry
 * is a time written into the queue entry, and a timer wakes the pipeline when the earliest one comes due.
 */
export class Pipeline {
  readonly #o: PipelineOptions;
  readonly #inFlight = new Map<string, Promise<void>>();
  readonly #immediate = new Set<string>();
  readonly #writes = new Set<Promise<void>>();
  readonly #controller = new AbortController();
  #work: QueueEntry[] = [];
  #cursor = 0;
  #runActive = false;
  #runStartedAt = 0;
  #runUploaded = 0;
  #paused: PauseState | undefined;
  #probe: Promise<boolean> | undefined;
  #timer: AbortController | undefined;
  #pauseLoop: AbortController | undefined;
  #stopping = false;
  /** The last successful upload, for `tvm-upload status`. */
  lastUpload: { at: number; filepath: string; key: string } | undefined;

  constructor(options: PipelineOptions) {
    this.#o = options;
  }

  /** Uploads the whole due queue (a scheduled run, upload_on_start, or a ready file in batch mode). */
  startRun(reason: string): void {
    if (this.#stopping) return;
    if (!this.#runActive) {
      this.#runActive = true;
      this.#runStartedAt = this.#o.clock.now();
      this.#runUploaded = 0;
      const queued = this.#o.store.queue.size;
      // An empty run (upload_on_start with nothing queued) is not an event worth a line at info.
      this.#o.logger[queued > 0 ? 'info' : 'debug'](
        `Upload run started (${reason}): ${queued} file(s) queued`,
      );
    } else {
      this.#o.logger.debug(`Upload run already active; ${reason} joins it`);
    }
    // pump() re-reads the due queue when its work list runs out; sorting it here too would cost O(n log n) per
    // ready file.
    this.pump();
  }

  /** Uploads these files now, without starting a whole run (a ready file with `batch_upload` off). */
  uploadNow(paths: readonly string[]): void {
    if (this.#stopping) return;
    for (const path of paths) this.#immediate.add(path);
    this.pump();
  }

  /** Why uploads are not starting, if they are not. */
  get paused(): PauseState | undefined {
    return this.#paused;
  }

  /** A snapshot for status output and tests. */
  status(): PipelineStatus {
    return { inFlight: this.#inFlight.size, runActive: this.#runActive, paused: this.#paused };
  }

  /** Resolves when nothing is in flight and every state change made so far is durable (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0 || this.#writes.size > 0) {
      await Promise.allSettled([...this.#inFlight.values(), ...this.#writes]);
    }
  }

  #track(write: Promise<unknown>, what: string): void {
    const tracked = write.then(
      () => undefined,
      (error: unknown) =>
        this.#o.logger.error(`Writing the state failed while ${what}: ${(error as Error).message}`),
    );
    this.#writes.add(tracked);
    void tracked.finally(() => this.#writes.delete(tracked));
  }

  /**
   * Lifts a destination pause (config reload, credentials file changed): re-checks the destination first, so a
   * still-broken destination stays paused instead of failing the next file.
   */
  async recheckDestination(reason: string): Promise<boolean> {
    const paused = this.#paused;
    if (paused?.kind !== 'destination' || this.#stopping) return paused === undefined;
    try {
      await this.#o.uploader().checkDestination(this.#controller.signal);
    } catch (error) {
      this.#o.logger.warn(`Destination still unusable after ${reason}: ${classify(error).message}`);
      return false;
    }
    this.#resume(`${reason}: destination check passed`);
    return true;
  }

  /** Starts uploads while slots are free and entries are due; arms the timer for the next due retry. */
  pump(): void {
    if (this.#stopping || this.#paused) return;
    const now = this.#o.clock.now();
    let refilled = false;
    while (this.#inFlight.size < this.#o.concurrency) {
      const entry = this.#next(now);
      if (entry) {
        this.#start(entry);
        continue;
      }
      if (refilled) break;
      this.#refill();
      refilled = true;
    }
    if (this.#inFlight.size === 0 && this.#cursor >= this.#work.length) {
      this.#immediate.clear();
      if (this.#runActive) this.#endRun();
      this.#armTimer(now);
    }
  }

  /** Stops starting uploads, cancels those in flight (multipart state stays in the queue), waits for them. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#controller.abort(new Error('tvm-upload is stopping'));
    this.#timer?.abort();
    this.#pauseLoop?.abort();
    await this.idle();
  }

  #eligible(entry: QueueEntry, now: number): boolean {
    if (this.#inFlight.has(entry.filepath) || entry.nextAttemptAt > now) return false;
    // Outside a run, only files already being retried (their schedule is in the queue) and files asked for now.
    return this.#runActive || entry.lastError !== undefined || this.#immediate.has(entry.filepath);
  }

  #next(now: number): QueueEntry | undefined {
    const queue = this.#o.store.queue;
    while (this.#cursor < this.#work.length) {
      const candidate = this.#work[this.#cursor++] as QueueEntry;
      // The snapshot may be stale: take the entry as it is now.
      const entry = queue.get(candidate.filepath);
      if (entry && this.#eligible(entry, now)) return entry;
    }
    return undefined;
  }

  #refill(): void {
    const now = this.#o.clock.now();
    this.#work = this.#o.store.queue.due(now, { order: this.#o.order }).filter((e) => this.#eligible(e, now));
    this.#cursor = 0;
  }

  #endRun(): void {
    this.#runActive = false;
    const seconds = ((this.#o.clock.now() - this.#runStartedAt) / 1000).toFixed(1);
    const left = this.#o.store.queue.size;
    this.#o.logger[this.#runUploaded > 0 || left > 0 ? 'info' : 'debug'](
      `Upload run finished: ${this.#runUploaded} file(s) uploaded in ${seconds}s, ${left} still queued`,
    );
    this.#o.metrics.queueDepth(this.#o.store.queue.size);
    const onRunEnd = this.#o.onRunEnd;
    if (onRunEnd) {
      void onRunEnd().catch((error: unknown) =>
        this.#o.logger.error(`Housekeeping after the run failed: ${(error as Error).message}`),
      );
    }
  }

  /** Wakes the pipeline when the earliest retry (or, during a run, any entry) comes due. */
  #armTimer(now: number): void {
    this.#timer?.abort();
    this.#timer = undefined;
    let earliest = Infinity;
    for (const entry of this.#o.store.queue.list()) {
      if (entry.nextAttemptAt > now && (this.#runActive || entry.lastError !== undefined)) {
        earliest = Math.min(earliest, entry.nextAttemptAt);
      }
    }
    if (earliest === Infinity) return;
    const timer = new AbortController();
    this.#timer = timer;
    this.#o.logger.debug(`Next retry due in ${formatDelay(earliest - now)}`);
    this.#o.clock.sleep(earliest - now, timer.signal).then(
      () => {
        if (this.#timer === timer) this.#timer = undefined;
        this.#refill();
        this.pump();
      },
      () => undefined,
    );
  }

  #start(entry: QueueEntry): void {
    const task = this.#process(entry)
      .catch((error: unknown) => {
        // A bug or a state write failure: the entry stays queued as it was and is retried later.
        this.#o.logger.error(
          `Processing ${entry.filepath} failed unexpectedly: ${(error as Error).stack ?? String(error)}`,
        );
      })
      .finally(() => {
        this.#inFlight.delete(entry.filepath);
        this.#immediate.delete(entry.filepath);
        this.pump();
      });
    this.#inFlight.set(entry.filepath, task);
  }

  async #process(entry: QueueEntry): Promise<void> {
    const { store, logger } = this.#o;
    const path = entry.filepath;
    const home = this.#o.locate(path, entry.source);
    if (!home) {
      await this.#giveUp(entry, {
        category: 'not-in-log-directory',
        message: `${path} is not under any configured log directory`,
        detail: 'not under any configured log directory',
      });
      return;
    }
    let before;
    try {
      before = await lstat(path);
      if (!before.isFile())
        throw Object.assign(new Error(`Not a regular file: ${path}`), { code: 'EISDIR', path });
    } catch (error) {
      await this.#failed(entry, error);
      return;
    }
    const key = this.#o.keyFor(home, path, before.mtimeMs);
    logger.debug(
      `Uploading ${path} (${before.size} bytes) to s3://${this.#o.bucket}/${key}${entry.attempts > 0 ? ` (retry ${entry.attempts})` : ''}`,
    );
    let result: UploadResult;
    try {
      result = await this.#o.uploader().upload({
        filePath: path,
        key,
        resumeState: entry.multipart as MultipartState | undefined,
        signal: this.#controller.signal,
        onStateChange: async (state) => {
          await store.queue.update(path, { multipart: state ? toQueueMultipart(state) : undefined });
        },
      });
    } catch (error) {
      await this.#failed(entry, error);
      return;
    }
    let after;
    try {
      after = await lstat(path);
    } catch {
      after = undefined;
    }
    // Register the version that was sent: the uploader verified size and SHA-256 of exactly that content.
    const sent =
      before.size === result.bytes ? before : after && after.size === result.bytes ? after : before;
    // Both change memory at once; the slot does not wait for the write. A crash before it lands re-queues the file,
    // and the uploader then finds the identical object in S3 and sends nothing: at least once, never lost.
    this.#track(
      Promise.all([
        store.registry.mark({
          filepath: path,
          size: result.bytes,
          mtimeMs: sent.mtimeMs,
          dev: sent.dev,
          ino: sent.ino,
          key: result.key,
        }),
        store.queue.remove(path),
      ]),
      `recording the upload of ${path}`,
    );
    this.#runUploaded++;
    this.lastUpload = { at: this.#o.clock.now(), filepath: path, key: result.key };
    this.#o.metrics.fileUploaded(result.skipped ? 0 : result.bytes);
    const notes = [
      result.skipped ? 'already in S3, nothing sent' : undefined,
      result.resumedParts ? `resumed ${result.resumedParts} of ${result.parts ?? '?'} parts` : undefined,
    ].filter(Boolean);
    logger.info(
      `Uploaded ${path} to s3://${this.#o.bucket}/${result.key} (${result.bytes} bytes${notes.length ? `, ${notes.join(', ')}` : ''})`,
    );
    if (this.#paused?.kind === 'outage') this.#resume('an upload succeeded');
  }

  async #failed(entry: QueueEntry, error: unknown): Promise<void> {
    const { logger, metrics, store } = this.#o;
    const now = this.#o.clock.now();
    const classification = classify(error, { now });
    if (classification.category === 'aborted') {
      // Shutdown: not an attempt. The multipart state is already in the queue entry.
      logger.debug(`Upload of ${entry.filepath} interrupted; it resumes at the next start`);
      return;
    }
    metrics.uploadFailed(classification.category);
    if (classification.kind === 'temporary' && classification.scope === 'connectivity') {
      const reachable = await this.#checkReachable(classification);
      if (!reachable) {
        // An outage is not the file's fault: no retry is spent, the file goes first when the destination returns.
        await store.queue.update(entry.filepath, {
          lastError: { category: classification.category, message: classification.message, at: now },
          nextAttemptAt: 0,
        });
        logger.debug(`Upload of ${entry.filepath} paused by the outage: ${classification.message}`);
        return;
      }
    }
    const decision = decide(error, entry.attempts, { ...this.#o.retry, now });
    const lastError = { category: classification.category, message: classification.message, at: now };
    if (decision.action === 'retry') {
      await store.queue.update(entry.filepath, {
        attempts: decision.retryNumber,
        nextAttemptAt: now + decision.delayMs,
        lastError,
      });
      metrics.retryScheduled();
      logger.warn(`Upload failed for ${entry.filepath}: ${classification.message}`);
      logger.warn(
        `Retry ${decision.retryNumber}/${this.#o.retry.maxRetries} for ${basename(entry.filepath)} (next attempt in ${formatDelay(decision.delayMs)})`,
      );
      return;
    }
    if (decision.reason === RETRIES_EXHAUSTED) {
      await this.#giveUp(entry, {
        category: RETRIES_EXHAUSTED,
        message: classification.message,
        lastCategory: classification.category,
        exhausted: true,
      });
      return;
    }
    await this.#giveUp(entry, {
      category: classification.category,
      message: classification.message,
      detail: rawMessage(error),
    });
    if (classification.scope === 'destination') this.#pauseForDestination(classification);
  }

  async #giveUp(
    entry: QueueEntry,
    reason: {
      category: string;
      message: string;
      detail?: string;
      lastCategory?: string;
      exhausted?: boolean;
    },
  ): Promise<void> {
    const { logger, metrics, store } = this.#o;
    await store.failed.add({
      filepath: entry.filepath,
      category: reason.category,
      message: reason.message,
      attempts: entry.attempts + 1,
      ...(reason.lastCategory ? { lastCategory: reason.lastCategory } : {}),
    });
    metrics.permanentFailure(reason.category);
    if (reason.exhausted) {
      const max = this.#o.retry.maxRetries;
      logger.error(
        `PERMANENT FAILURE: retries exhausted (${max}/${max}) for ${entry.filepath}: ${reason.message}`,
      );
    } else {
      logger.error(`PERMANENT FAILURE: ${reason.message}`);
      logger.error(
        `Permanent upload error for ${basename(entry.filepath)}: ${reason.detail ?? reason.message}`,
      );
    }
  }

  /**
   * After a connectivity-class error: is the destination reachable? One probe answers for every upload that fails
   * meanwhile; during a confirmed outage the answer is no without asking. A connectivity error while the
   * destination answers is the file's own (counted); an outage is not.
   */
  async #checkReachable(classification: Classification): Promise<boolean> {
    if (this.#paused?.kind === 'outage' && this.#paused.confirmed) return false;
    if (this.#paused?.kind === 'destination') return true;
    this.#paused ??= {
      kind: 'outage',
      since: this.#o.clock.now(),
      confirmed: false,
      probes: 0,
      message: classification.message,
    };
    this.#probe ??= this.#probeOnce().finally(() => {
      this.#probe = undefined;
    });
    const reachable = await this.#probe;
    const paused = this.#paused;
    if (reachable) {
      if (paused?.kind === 'outage' && !paused.confirmed) this.#paused = undefined;
      return true;
    }
    if (paused?.kind === 'outage' && !paused.confirmed) {
      paused.confirmed = true;
      this.#o.onPauseChange?.();
      this.#o.logger.warn(
        `Destination unreachable (${classification.message}); uploads paused, ${this.#o.store.queue.size} file(s) wait; probing with backoff up to ${formatDelay(this.#maxProbeDelay())}`,
      );
      this.#startPauseLoop();
    }
    return false;
  }

  async #probeOnce(): Promise<boolean> {
    try {
      await this.#o.uploader().checkDestination(this.#controller.signal);
      return true;
    } catch (error) {
      const c = classify(error);
      // Only a connectivity failure means "unreachable"; a 503 or an access error came from the destination.
      return !(c.kind === 'temporary' && c.scope === 'connectivity') && c.category !== 'aborted';
    }
  }

  #maxProbeDelay(): number {
    return this.#o.maxProbeDelayMs ?? 300_000;
  }

  #pauseForDestination(classification: Classification): void {
    if (this.#paused?.kind === 'destination') return;
    this.#paused = { kind: 'destination', since: this.#o.clock.now(), message: classification.message };
    this.#o.onPauseChange?.();
    this.#o.logger.error(
      `Uploads paused: ${classification.message}. ${this.#o.store.queue.size} file(s) wait; uploads resume after a config reload (systemctl reload tvm-upload), a change of the AWS credentials file, a restart, or a successful re-check every ${formatDelay(this.#o.destinationRecheckMs ?? 300_000)}`,
    );
    this.#startPauseLoop();
  }

  /** While paused: probe (outage, capped backoff) or re-check (destination, fixed interval) until it passes. */
  #startPauseLoop(): void {
    this.#pauseLoop?.abort();
    const loop = new AbortController();
    this.#pauseLoop = loop;
    const { clock, logger } = this.#o;
    void (async () => {
      for (let attempt = 1; !loop.signal.aborted; attempt++) {
        const paused = this.#paused;
        if (!paused) return;
        const delay =
          paused.kind === 'outage'
            ? retryDelayMs(attempt, {
                initialDelayMs: Math.max(this.#o.retry.initialDelayMs, 100),
                maxDelayMs: this.#maxProbeDelay(),
              })
            : (this.#o.destinationRecheckMs ?? 300_000);
        try {
          await clock.sleep(delay, loop.signal);
        } catch {
          return;
        }
        if (this.#paused !== paused) return;
        try {
          await this.#o.uploader().checkDestination(loop.signal);
        } catch (error) {
          if (paused.kind === 'outage') paused.probes++;
          logger.debug(
            `Destination check failed (${classify(error).message}); next in ${formatDelay(delay * 2)}`,
          );
          continue;
        }
        if (this.#paused === paused) this.#resume('destination check passed');
        return;
      }
    })();
  }

  #resume(reason: string): void {
    const paused = this.#paused;
    if (!paused) return;
    this.#paused = undefined;
    this.#pauseLoop?.abort();
    this.#pauseLoop = undefined;
    this.#o.onPauseChange?.();
    const minutes = ((this.#o.clock.now() - paused.since) / 60_000).toFixed(1);
    this.#o.logger.info(
      `Uploads resumed after ${minutes} min (${reason}); ${this.#o.store.queue.size} file(s) queued`,
    );
    this.#refill();
    this.pump();
  }
}

/**
 * The uploader's multipart state as the queue stores it. The two libraries know nothing of each other: the queue
 * keeps the fields it checks (upload id, key, part size, parts) and every other field as it is, so the state
 * round-trips unchanged.
 */
function toQueueMultipart(state: MultipartState): QueueMultipartState {
  return state as unknown as QueueMultipartState;
}

/** The error's own words (`ENOENT: no such file or directory, open '/x'`), for the runbook's second line. */
function rawMessage(error: unknown): string {
  let node: unknown = error;
  for (let depth = 0; depth < 5 && node instanceof Error; depth++) {
    if (node.cause instanceof Error) node = node.cause;
    else break;
  }
  if (node instanceof Error) {
    const name =
      node.name && node.name !== 'Error' && !node.message.startsWith(node.name) ? `${node.name}: ` : '';
    return `${name}${node.message}`.replace(/\s+/g, ' ');
  }
  return String(error);
}
