/** The three state files. */
export type StateKind = 'queue' | 'failed' | 'registry';

interface Batch {
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

function batch(): Batch {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Callers get this promise and normally await it; the no-op handler keeps one forgotten promise from
  // turning a failed write into an unhandled rejection that would end the daemon.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** How the committer retries a write that failed. */
export interface RetryPolicy {
  /** The first retry waits this long (real time); each further one twice as long. */
  readonly initialDelayMs: number;
  /** The longest wait between two attempts. */
  readonly maxDelayMs: number;
}

/** What the committer reports about its writes, for logging and health. */
export interface CommitObserver {
  /** A write failed; it is retried after `retryInMs`. `failures` counts the failures in a row. */
  failed(error: unknown, failures: number, retryInMs: number): void;
  /** A write succeeded after `failures` failures in a row. */
  recovered(failures: number): void;
}

/**
 * Group commit: mutations change memory at once and wait for the next write; while one write runs, every
 * mutation made meanwhile joins the following one. Under load a write therefore carries as many changes as
 * arrived during the previous write, so the cost per change falls as the load rises. With a delay, writes also
 * start at most once per delay, so a busy store's files are at most one delay (plus a write) behind memory.
 *
 * A write that fails (a full disk) is retried with exponential backoff until it succeeds; the promises of the
 * changes it carries stay pending meanwhile (they resolve when durable, never reject while the store is open),
 * and changes made meanwhile join the retry. Only `close()` gives up: one last attempt, and if it fails every
 * waiting promise rejects with its error.
 */
export class GroupCommitter {
  readonly #write: (kinds: ReadonlySet<StateKind>) => Promise<void>;
  readonly #delayMs: number;
  readonly #retry: RetryPolicy;
  readonly #observer: CommitObserver;
  readonly #dirty = new Set<StateKind>();
  #next: Batch | undefined;
  #inflight: Promise<void> | undefined;
  #running = false;
  #scheduled = false;
  #failures = 0;
  #closing = false;
  #wake: (() => void) | undefined;
  #backoffTimer: ReturnType<typeof setTimeout> | undefined;
  /** When the last write started (real time, ms): writes start at most once per `delayMs`. */
  #lastStart = -Infinity;

  /**
   * @param write Serialises the given kinds and writes them durably.
   * @param delayMs How long an idle store waits after a first change before writing, to gather more.
   */
  constructor(
    write: (kinds: ReadonlySet<StateKind>) => Promise<void>,
    delayMs: number,
    retry: RetryPolicy,
    observer: CommitObserver,
  ) {
    this.#write = write;
    this.#delayMs = delayMs;
    this.#retry = retry;
    this.#observer = observer;
  }

  /** Records a change; resolves once a write containing it is durable. */
  changed(...kinds: StateKind[]): Promise<void> {
    for (const kind of kinds) this.#dirty.add(kind);
    return this.#waitNext();
  }

  /** Resolves once everything changed so far is durable. */
  flush(): Promise<void> {
    if (this.#dirty.size > 0) return this.#waitNext();
    if (this.#next) return this.#next.promise;
    return this.#inflight ?? Promise.resolve();
  }

  /** True while changes wait for a write. */
  get pending(): boolean {
    return this.#dirty.size > 0 || this.#next !== undefined || this.#inflight !== undefined;
  }

  /**
   * Stops retrying: makes one last attempt now (skipping the backoff) and resolves; if that attempt fails, every
   * waiting promise and this one reject with its error.
   */
  async close(): Promise<void> {
    this.#closing = true;
    this.#wake?.();
    await this.flush();
  }

  #waitNext(): Promise<void> {
    this.#next ??= batch();
    this.#schedule();
    return this.#next.promise;
  }

  #schedule(): void {
    if (this.#running || this.#scheduled) return;
    this.#scheduled = true;
    const start = () => {
      this.#scheduled = false;
      // #loop settles every batch itself; anything thrown out of it is a bug: fail the waiters, never leave it unhandled.
      this.#loop().catch((error: unknown) => this.#next?.reject(error as Error));
    };
    // Even without a delay, wait for the current turn of the event loop so that changes made together
    // (a loop of adds) share one write. The delay is real time, not the injected clock: it batches disk writes,
    // and a fake clock that nobody advances must not hold a durable write back. The timer keeps the process
    // alive on purpose: a change waiting for its write must reach the disk.
    if (this.#delayMs > 0 && !this.#closing) setTimeout(start, this.#delayMs);
    else setImmediate(start);
  }

  /** Waits `ms` (a backoff, or the pace between writes); `close()` cuts it short. Real time, as the commit delay. */
  #backoff(ms: number): Promise<void> {
    if (this.#closing) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.#wake = () => {
        clearTimeout(this.#backoffTimer);
        this.#wake = undefined;
        resolve();
      };
      this.#backoffTimer = setTimeout(() => this.#wake?.(), ms);
    });
  }

  /**
   * Under load, waits out the rest of `delayMs` since the last write began, so a busy store writes at most once per
   * `delayMs` (each write rewrites whole files: back-to-back writes would cost CPU in proportion to the queue).
   */
  async #pace(): Promise<void> {
    const wait = this.#lastStart + this.#delayMs - performance.now();
    if (wait > 0) await this.#backoff(wait);
  }

  async #loop(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      while (this.#next) {
        if (this.#delayMs > 0 && this.#failures === 0) await this.#pace();
        this.#lastStart = performance.now();
        const current = this.#next;
        this.#next = undefined;
        const kinds = new Set(this.#dirty);
        this.#dirty.clear();
        this.#inflight = current.promise;
        try {
          if (kinds.size > 0) await this.#write(kinds);
          if (this.#failures > 0) this.#observer.recovered(this.#failures);
          this.#failures = 0;
          current.resolve();
        } catch (error) {
          // Not durable: keep the kinds dirty and the waiters waiting, and try again after the backoff with
          // whatever changed meanwhile.
          for (const kind of kinds) this.#dirty.add(kind);
          if (this.#closing) {
            this.#failures = 0;
            const later = this.#next as Batch | undefined;
            this.#next = undefined;
            this.#dirty.clear();
            current.reject(error);
            later?.reject(error);
            continue;
          }
          this.#failures++;
          const delay = Math.min(
            this.#retry.maxDelayMs,
            this.#retry.initialDelayMs * 2 ** Math.min(this.#failures - 1, 30),
          );
          this.#observer.failed(error, this.#failures, delay);
          const later = this.#next as Batch | undefined;
          if (later) later.promise.then(current.resolve, current.reject);
          else this.#next = current;
          await this.#backoff(delay);
        }
      }
    } finally {
      this.#running = false;
      this.#inflight = undefined;
    }
  }
}
