import type { QueueEntry, MultipartState as QueueMultipartState } from '@tvm/durable-queue';
import { classify } from '@tvm/error-classification';
import type { Metrics } from '@tvm/metrics';
import type { MultipartState } from '@tvm/s3-uploader';
import type { Clock } from '../clock.js';
import { inBackground } from '../background.js';
import type { AgentLogger } from '../logger.js';
import { byLane, choosePreemption, type Lane, type RunningUpload } from '../lanes.js';
import { PauseControl, type PauseState } from './pause.js';
import type { Admission, FileProbe, ObjectStore, PipelineStore, Placement } from './ports.js';
import { formatDelay, transition, type Effect, type Outcome, type RetryPolicy } from './transition.js';

/** Options of {@link Pipeline}. */
export interface PipelineOptions {
  store: PipelineStore;
  /** The current object store (a getter: the destination is rebuilt when credentials change). */
  objects: () => ObjectStore;
  files: FileProbe;
  bucket: string;
  clock: Clock;
  logger: AgentLogger;
  metrics: Pick<
    Metrics,
    'fileUploaded' | 'uploadFailed' | 'retryScheduled' | 'permanentFailure' | 'queueDepth'
  >;
  /** Files uploaded at once. */
  concurrency: number;
  order: 'oldest_first' | 'newest_first';
  retry: RetryPolicy;
  /** The object key of a file version. */
  keyFor: (home: { source: string; root: string }, filepath: string, mtimeMs: number) => string;
  /** Where a queued file belongs, or why it may not be uploaded (legacy entries carry no source). */
  locate: (filepath: string, source: string | undefined) => Placement;
  /** Longest wait between two probes of an unreachable destination. @default 300000 */
  maxProbeDelayMs?: number;
  /** How often a paused destination (credentials, access, bucket) is re-checked. @default 300000 */
  destinationRecheckMs?: number;
  /**
   * Called when the pipeline has drained after uploading something (a run ended, or the last file asked for went):
   * the after-upload deletion policy and the emergency check.
   */
  onDrained?: () => Promise<void>;
  /** Called when uploads pause or resume (the status file). */
  onPauseChange?: () => void;
  /**
   * The lane of a queued entry (`laneOf` with the current config). Higher lanes go first, `order` inside a lane; a
   * file of a higher lane that finds every slot busy takes the slot of a lower-lane multipart upload, which pauses
   * after its current part and resumes later. @default the entry's `priority`, else `normal`
   */
  lane?: (entry: QueueEntry) => Lane;
  /** Whether uploads may start and go on (metered links). @default everything admitted */
  admission?: Admission;
}

/** What {@link Pipeline.status} reports. */
export interface PipelineStatus {
  inFlight: number;
  runActive: boolean;
  paused: PauseState | undefined;
  /** Uploads in flight by lane, and those asked to pause for a higher lane. */
  lanes: Partial<Record<Lane, number>>;
  pausing: number;
}

export type { PauseState };

/**
 * The upload pipeline: takes due entries from the queue, uploads each (one upload per file at a time, at most
 * `concurrency` at once), and carries out what {@link transition} decides for each outcome. It never sleeps on a
 * failure: a retry is a time written into the queue entry, and a timer wakes the pipeline when the earliest one
 * comes due. Pauses (outage, destination) are {@link PauseControl}'s.
 */
export class Pipeline {
  readonly #o: PipelineOptions;
  readonly #pause: PauseControl;
  readonly #inFlight = new Map<string, Promise<void>>();
  /** What the preemption decision knows of each upload in flight. */
  readonly #running = new Map<string, RunningUpload>();
  readonly #immediate = new Set<string>();
  /** Entries paused between parts or refused by the admission: still wanted outside a run, until they start. */
  readonly #held = new Map<string, string>();
  /** Entries the admission refused to start, until it lets them (for the `may go now` line). */
  readonly #refused = new Set<string>();
  /**
   * Entries the admission paused between parts: not restarted by the pump that follows their own pause (which
   * would ask the same admission at once, in a loop), only by the next pump from outside (a wake, a new file).
   */
  readonly #untilWake = new Set<string>();
  /**
   * The due entries in lane order, and how far the pumps went through them: rebuilt (a sort of the queue) only when
   * something may have changed the order (a new file, a wake, a timer, an entry back in the queue after its
   * attempt), not after every upload, so a run through 10,000 small files does not sort the queue 10,000 times.
   */
  #work: QueueEntry[] = [];
  #cursor = 0;
  #stale = true;
  readonly #writes = new Set<Promise<void>>();
  readonly #controller = new AbortController();
  #runActive = false;
  #runStartedAt = 0;
  #runUploaded = 0;
  #uploadedSinceDrain = 0;
  #timer: AbortController | undefined;
  #stopping = false;
  /** The last successful upload, for `tvm-upload status`. */
  lastUpload: { at: number; filepath: string; key: string } | undefined;
  /** When bytes last reached S3 (a part or a whole file acknowledged), for the watchdog. */
  lastProgressAt: number | undefined;

  constructor(options: PipelineOptions) {
    this.#o = options;
    this.#pause = new PauseControl({
      clock: options.clock,
      logger: options.logger,
      check: (signal) => this.#o.objects().checkDestination(signal),
      initialProbeDelayMs: Math.max(options.retry.initialDelayMs, 100),
      maxProbeDelayMs: options.maxProbeDelayMs ?? 300_000,
      destinationRecheckMs: options.destinationRecheckMs ?? 300_000,
      queued: () => this.#o.store.queue.size,
      onChange: (resumed) => {
        this.#o.onPauseChange?.();
        if (resumed) this.pump();
      },
    });
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
    return this.#pause.state;
  }

  /** A snapshot for status output and tests. */
  status(): PipelineStatus {
    const lanes: Partial<Record<Lane, number>> = {};
    let pausing = 0;
    for (const upload of this.#running.values()) {
      lanes[upload.lane] = (lanes[upload.lane] ?? 0) + 1;
      if (upload.pausing) pausing++;
    }
    return {
      inFlight: this.#inFlight.size,
      runActive: this.#runActive,
      paused: this.#pause.state,
      lanes,
      pausing,
    };
  }

  /** Resolves when nothing is in flight and every state change made so far is durable (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0 || this.#writes.size > 0) {
      await Promise.allSettled([...this.#inFlight.values(), ...this.#writes]);
    }
  }

  /**
   * Lifts a destination pause (config reload, credentials file changed): re-checks the destination first, so a
   * still-broken destination stays paused instead of failing the next file.
   */
  recheckDestination(reason: string): Promise<boolean> {
    if (this.#stopping) return Promise.resolve(this.#pause.state === undefined);
    return this.#pause.recheck(reason);
  }

  /** Changes the retry policy from the next failure on (a reload). */
  setRetryPolicy(retry: RetryPolicy): void {
    this.#o.retry = retry;
  }

  /** Changes the order of due files from now on (a reload). */
  setOrder(order: PipelineOptions['order']): void {
    this.#o.order = order;
    this.#stale = true;
  }

  /**
   * Starts uploads while slots are free and entries are due, higher lanes first (`order` inside a lane); lets a
   * waiting file of a higher lane take the slot of a lower-lane multipart upload (which pauses after its current
   * part); arms the timer for the next due retry. Also the admission's `wake()`: call it when its verdict may have
   * changed.
   */
  pump(): void {
    this.#untilWake.clear();
    this.#stale = true;
    this.#pumpNow();
  }

  #pumpNow(): void {
    if (this.#stopping || this.#pause.state) return;
    const now = this.#o.clock.now();
    const queue = this.#o.store.queue;
    let rebuilt = false;
    for (;;) {
      // Also once the list is used up: entries may have come that no event announced (a merged queue edit).
      if (this.#stale || (this.#cursor >= this.#work.length && !rebuilt)) {
        this.#stale = false;
        rebuilt = true;
        this.#work = byLane(queue.due(now, { order: this.#o.order }), (e) => this.#laneOf(e));
        this.#cursor = 0;
      }
      if (!this.#startNext(now) || rebuilt) break;
    }
    if (this.#inFlight.size === 0) {
      this.#immediate.clear();
      if (this.#runActive) this.#endRun();
      if (this.#uploadedSinceDrain > 0) this.#drained();
      this.#armTimer(now);
    }
  }

  /** Starts what it can from the cursor on; false when every slot is taken (the entry at the cursor waits). */
  #startNext(now: number): boolean {
    const queue = this.#o.store.queue;
    while (this.#cursor < this.#work.length) {
      // The list may be stale: take the entry as it is now.
      const entry = queue.get((this.#work[this.#cursor] as QueueEntry).filepath);
      if (!entry || !this.#eligible(entry, now) || this.#untilWake.has(entry.filepath)) {
        this.#cursor++;
        continue;
      }
      const lane = this.#laneOf(entry);
      const free = this.#busy() < this.#o.concurrency;
      const victim = free ? undefined : choosePreemption([...this.#running.values()], lane);
      // In lane order: a file that can neither start nor preempt has none after it that could. It stays next.
      if (!free && victim === undefined) return false;
      this.#cursor++;
      const verdict = this.#o.admission?.mayStart(entry, lane, bytesToSend(entry)) ?? { ok: true };
      if (!verdict.ok) {
        this.#refuse(entry, verdict.reason);
        continue;
      }
      // Said once the admission lets a file it held back go (a route back to WiFi, a new day's budget).
      if (this.#refused.delete(entry.filepath)) this.#o.logger.info(`${entry.filepath} may go now`);
      if (victim !== undefined) this.#preempt(victim, entry, lane);
      this.#start(entry, lane);
    }
    return true;
  }

  /** Stops starting uploads, cancels those in flight (multipart state stays in the queue), waits for them. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#controller.abort(new Error('tvm-upload is stopping'));
    this.#timer?.abort();
    this.#pause.stop();
    // Uploads only: state writes waiting for a full disk to free up must not hold the shutdown (the store's close
    // makes the last attempt).
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight.values()]);
  }

  #eligible(entry: QueueEntry, now: number): boolean {
    if (this.#inFlight.has(entry.filepath) || entry.nextAttemptAt > now) return false;
    // Outside a run, only files already being retried (their schedule is in the queue), files asked for now, and
    // files paused or held back on their way.
    return (
      this.#runActive ||
      entry.lastError !== undefined ||
      this.#immediate.has(entry.filepath) ||
      this.#held.has(entry.filepath)
    );
  }

  #laneOf(entry: QueueEntry): Lane {
    if (this.#o.lane) return this.#o.lane(entry);
    const priority = entry['priority'];
    return priority === 'incident' || priority === 'high' || priority === 'low' ? priority : 'normal';
  }

  /** Slots taken: uploads in flight, less those pausing (their slot is handed over; their last parts finish). */
  #busy(): number {
    let pausing = 0;
    for (const upload of this.#running.values()) if (upload.pausing) pausing++;
    return this.#inFlight.size - pausing;
  }

  #refuse(entry: QueueEntry, reason: string): void {
    // Told once per reason, not at every pump.
    if (this.#held.get(entry.filepath) !== reason) this.#o.logger.info(`${entry.filepath} waits: ${reason}`);
    this.#held.set(entry.filepath, reason);
    this.#refused.add(entry.filepath);
  }

  #preempt(victim: string, entry: QueueEntry, lane: Lane): void {
    const upload = this.#running.get(victim);
    if (!upload) return;
    upload.pausing = true;
    this.#o.logger.info(
      `Pausing the ${upload.lane}-lane upload of ${victim} after its current part: ${entry.filepath} (${lane} lane) takes its slot`,
    );
  }

  #endRun(): void {
    this.#runActive = false;
    const seconds = ((this.#o.clock.now() - this.#runStartedAt) / 1000).toFixed(1);
    const left = this.#o.store.queue.size;
    this.#o.logger[this.#runUploaded > 0 || left > 0 ? 'info' : 'debug'](
      `Upload run finished: ${this.#runUploaded} file(s) uploaded in ${seconds}s, ${left} still queued`,
    );
    this.#o.metrics.queueDepth(left);
  }

  #drained(): void {
    this.#uploadedSinceDrain = 0;
    const onDrained = this.#o.onDrained;
    if (!onDrained) return;
    onDrained().catch((error: unknown) =>
      this.#o.logger.error(`Housekeeping after uploads failed: ${(error as Error).message}`),
    );
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
        this.pump();
      },
      () => undefined,
    );
  }

  #start(entry: QueueEntry, lane: Lane): void {
    this.#held.delete(entry.filepath);
    this.#running.set(entry.filepath, {
      filepath: entry.filepath,
      lane,
      size: entry.size ?? 0,
      multipart: entry.multipart !== undefined,
      pausing: false,
      startedAt: this.#o.clock.now(),
    });
    const task = this.#attempt(entry, lane)
      .then((outcome) => this.#apply(entry, outcome))
      .catch((error: unknown) => {
        // A bug: the entry stays queued as it was and is retried later.
        this.#o.logger.error(
          `Processing ${entry.filepath} failed unexpectedly: ${(error as Error).stack ?? String(error)}`,
        );
      })
      .finally(() => {
        this.#inFlight.delete(entry.filepath);
        this.#running.delete(entry.filepath);
        this.#immediate.delete(entry.filepath);
        // Back in the queue (paused, a retry, a pause): its place in the order is to be found again.
        if (this.#o.store.queue.get(entry.filepath)) this.#stale = true;
        this.#pumpNow();
      });
    this.#inFlight.set(entry.filepath, task);
  }

  /** One attempt at a file: its placement, its facts, the upload; every failure becomes an outcome. */
  async #attempt(entry: QueueEntry, lane: Lane): Promise<Outcome> {
    const path = entry.filepath;
    const placement = this.#o.locate(path, entry.source);
    if (!placement.ok) return { kind: 'rejected', category: placement.category, reason: placement.reason };
    // The configured form of a path (through a symlinked log directory) is opened by its resolved form.
    const file = placement.path;
    const running = this.#running.get(path);
    try {
      const facts = await this.#o.files.stat(file);
      if (!facts.isFile)
        throw Object.assign(new Error(`Not a regular file: ${path}`), { code: 'EISDIR', path });
      const key = this.#o.keyFor(placement, file, facts.mtimeMs);
      if (running) running.size = facts.size;
      const { admission } = this.#o;
      // Parts S3 acknowledged, to tell the admission each new one once.
      let acknowledged = new Set(entry.multipart?.parts.map((part) => part.partNumber));
      this.#o.logger.debug(
        `Uploading ${path} (${facts.size} bytes) to s3://${this.#o.bucket}/${key}${entry.attempts > 0 ? ` (retry ${entry.attempts})` : ''}`,
      );
      const stored = await this.#o.objects().upload({
        filePath: file,
        key,
        source: placement.source,
        mtimeMs: facts.mtimeMs,
        resumeState: entry.multipart as MultipartState | undefined,
        signal: this.#controller.signal,
        // Kept in memory at once and committed in the background, never awaited between two parts: a part whose
        // commit a crash loses is found again by the uploader's ListParts reconciliation on resume.
        onStateChange: (state) => {
          if (state && admission) {
            for (const part of state.parts) {
              if (!acknowledged.has(part.partNumber)) {
                admission.sent(entry, lane, partBytes(state.size, state.partSize, part.partNumber));
              }
            }
          }
          acknowledged = new Set(state?.parts.map((part) => part.partNumber));
          if (state && running && !running.multipart) {
            // Pausable from now on: a file of a higher lane may be waiting for exactly this.
            running.multipart = true;
            this.#pumpNow();
          }
          this.#track(
            this.#o.store.queue.update(path, { multipart: state ? toQueueMultipart(state) : undefined }),
            `saving the multipart state of ${path}`,
          );
        },
        onProgress: () => {
          this.lastProgressAt = this.#o.clock.now();
        },
        shouldPause: () =>
          running?.pausing ? 'a file of a higher lane takes the slot' : admission?.mayContinue(entry, lane),
      });
      // A single request: its body counts once it is acknowledged.
      if (admission && !stored.skipped && stored.parts === undefined)
        admission.sent(entry, lane, stored.bytes);
      return { kind: 'uploaded', ...stored };
    } catch (error) {
      if (isPaused(error) && !this.#controller.signal.aborted) {
        this.#held.set(path, error.reason);
        if (!running?.pausing) this.#untilWake.add(path);
        return { kind: 'paused', reason: error.reason };
      }
      const classification = classify(error, { now: this.#o.clock.now() });
      const outcome: Outcome = { kind: 'failed', error };
      if (classification.kind === 'temporary' && classification.scope === 'connectivity') {
        outcome.reachable = await this.#pause.reachable(classification);
      }
      return outcome;
    }
  }

  #apply(entry: QueueEntry, outcome: Outcome): void {
    const now = this.#o.clock.now();
    // Judged now, not when the upload failed: uploads in flight together meet one destination error, and only the
    // first to be decided tells it and pauses.
    if (outcome.kind === 'failed') {
      outcome.destinationPaused = this.paused?.kind === 'destination';
      outcome.dequeued = this.#o.store.queue.get(entry.filepath) === undefined;
    }
    const effects = transition(entry, outcome, now, { retry: this.#o.retry, bucket: this.#o.bucket });
    // Every effect is carried out in this same turn, so the next decision already sees a pause this one made. State
    // writes change memory at once and are not awaited: on a full state disk they wait (retried by the store) until
    // space returns, and an upload slot must not wait with them.
    for (const effect of effects) this.#carryOut(entry, effect, now);
  }

  #carryOut(entry: QueueEntry, effect: Effect, now: number): void {
    const { store, logger, metrics } = this.#o;
    const path = entry.filepath;
    switch (effect.type) {
      case 'log':
        logger[effect.level](effect.message);
        return;
      case 'queue-update':
        this.#track(store.queue.update(path, effect.patch), `recording the attempt at ${path}`);
        return;
      case 'uploaded':
        // A crash before these writes land re-queues the file, and the uploader then finds the identical object in
        // S3 and sends nothing: never lost.
        this.#track(
          Promise.all([
            store.registry.mark({ filepath: path, ...effect.version, key: effect.key }),
            store.queue.remove(path),
          ]),
          `recording the upload of ${path}`,
        );
        this.#runUploaded++;
        this.#uploadedSinceDrain++;
        this.lastUpload = { at: now, filepath: path, key: effect.key };
        this.lastProgressAt = now;
        metrics.fileUploaded(effect.bytesSent);
        return;
      case 'failed':
        metrics.permanentFailure(effect.category);
        this.#track(
          store.failed.add({
            filepath: path,
            category: effect.category,
            message: effect.message,
            attempts: effect.attempts,
            ...(effect.lastCategory ? { lastCategory: effect.lastCategory } : {}),
          }),
          `moving ${path} to the failed list`,
        );
        return;
      case 'upload-failed':
        metrics.uploadFailed(effect.category);
        return;
      case 'retry-scheduled':
        metrics.retryScheduled();
        return;
      case 'pause-destination':
        this.#pause.pauseForDestination(effect.classification);
        return;
      case 'upload-succeeded':
        this.#pause.uploadSucceeded();
        return;
    }
  }

  #track(write: Promise<unknown>, what: string): void {
    const tracked = write.then(
      () => undefined,
      (error: unknown) =>
        this.#o.logger.error(`Writing the state failed while ${what}: ${(error as Error).message}`),
    );
    this.#writes.add(tracked);
    // `tracked` never rejects (its rejection is logged above).
    inBackground(
      tracked.finally(() => this.#writes.delete(tracked)),
      this.#o.logger,
      `Recording ${what}`,
    );
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

/** The uploader's `UploadPausedError` (matched by name: the fakes throw their own). */
function isPaused(error: unknown): error is Error & { reason: string } {
  return (
    error instanceof Error &&
    error.name === 'UploadPausedError' &&
    typeof (error as { reason?: unknown }).reason === 'string'
  );
}

/** The length of part `n` of a multipart upload. */
function partBytes(size: number, partSize: number, n: number): number {
  return Math.max(0, Math.min(partSize, size - (n - 1) * partSize));
}

/** What an upload of `entry` will send: its size less the parts S3 holds already (from the queued state). */
export function bytesToSend(entry: QueueEntry): number {
  const recorded = entry.multipart?.['size'];
  const size = typeof recorded === 'number' ? recorded : (entry.size ?? 0);
  const partSize = entry.multipart?.partSize ?? 0;
  const held = (entry.multipart?.parts ?? []).reduce(
    (sum, part) => sum + partBytes(size, partSize, part.partNumber),
    0,
  );
  return Math.max(0, size - held);
}
