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

/**
 * Group commit: mutations change memory at once and wait for the next write; while one write runs, every
 * mutation made meanwhile joins the following one. Under load a write therefore carries as many changes as
 * arrived during the previous write, so the cost per change falls as the load rises.
 */
export class GroupCommitter {
  readonly #write: (kinds: ReadonlySet<StateKind>) => Promise<void>;
  readonly #delayMs: number;
  readonly #dirty = new Set<StateKind>();
  #next: Batch | undefined;
  #inflight: Promise<void> | undefined;
  #running = false;
  #scheduled = false;

  /**
   * @param write Serialises the given kinds synchronously (before its first await) and writes them durably.
   * @param delayMs How long an idle store waits after a first change before writing, to gather more.
   */
  constructor(write: (kinds: ReadonlySet<StateKind>) => Promise<void>, delayMs: number) {
    this.#write = write;
    this.#delayMs = delayMs;
  }

  /** Records a change; resolves once a write containing it is durable. */
  changed(...kinds: StateKind[]): Promise<void> {
    for (const kind of kinds) this.#dirty.add(kind);
    return this.#waitNext();
  }

  /** Resolves once everything changed so far is durable; rejects if that write fails. */
  flush(): Promise<void> {
    if (this.#dirty.size > 0) return this.#waitNext();
    if (this.#next) return this.#next.promise;
    return this.#inflight ?? Promise.resolve();
  }

  /** True while changes wait for a write. */
  get pending(): boolean {
    return this.#dirty.size > 0 || this.#next !== undefined || this.#inflight !== undefined;
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
      void this.#loop();
    };
    // Even without a delay, wait for the current turn of the event loop so that changes made together
    // (a loop of adds) share one write. The delay is real time, not the injected clock: it batches disk writes,
    // and a fake clock that nobody advances must not hold a durable write back. The timer keeps the process
    // alive on purpose: a change waiting for its write must reach the disk.
    if (this.#delayMs > 0) setTimeout(start, this.#delayMs);
    else setImmediate(start);
  }

  async #loop(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      while (this.#next) {
        const current = this.#next;
        this.#next = undefined;
        const kinds = new Set(this.#dirty);
        this.#dirty.clear();
        this.#inflight = current.promise;
        try {
          if (kinds.size > 0) await this.#write(kinds);
          current.resolve();
        } catch (error) {
          // Not durable: keep the kinds dirty so the next change or flush() writes them again.
          for (const kind of kinds) this.#dirty.add(kind);
          current.reject(error);
        }
      }
    } finally {
      this.#running = false;
      this.#inflight = undefined;
    }
  }
}
