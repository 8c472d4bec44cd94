/**
 * The clock shape every @tvm package accepts (each declares it structurally): epoch milliseconds and an
 * abortable sleep. A fake one lets a 512-second backoff or a 6-hour outage run in milliseconds.
 */
export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

interface Sleeper {
  at: number;
  seq: number;
  resolve: () => void;
}

/** A clock that moves only when a test says so. */
export interface FakeClock extends Clock {
  /** Moves time forward by `ms`, waking each sleeper at its due time in order, letting promises settle between. */
  advance(ms: number): Promise<void>;
  /** Advances to the next sleeper's due time; false when nobody sleeps. */
  next(): Promise<boolean>;
  /** Sets the time without waking anybody early or late: only sleepers due by then wake. */
  set(epochMs: number): Promise<void>;
  /** How many sleepers wait. */
  readonly pending: number;
}

/** Lets queued promise callbacks (and the I/O callbacks they schedule) run. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Creates a fake clock starting at `start` (epoch ms; default 2025-10-20T00:00:00Z). */
export function createFakeClock(start = Date.UTC(2025, 9, 20)): FakeClock {
  let current = start;
  let seq = 0;
  const sleepers: Sleeper[] = [];

  const wakeDue = async (until: number): Promise<void> => {
    for (;;) {
      await settle();
      sleepers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const first = sleepers[0];
      if (!first || first.at > until) break;
      sleepers.shift();
      current = Math.max(current, first.at);
      first.resolve();
    }
    current = Math.max(current, until);
    await settle();
  };

  return {
    now: () => current,
    sleep(ms, signal) {
      if (signal?.aborted) return Promise.reject(abortError(signal));
      return new Promise<void>((resolve, reject) => {
        // The listener goes when the sleep ends either way: long fake-time loops would otherwise pile them up.
        const onAbort = () => {
          const index = sleepers.indexOf(sleeper);
          if (index >= 0) sleepers.splice(index, 1);
          reject(abortError(signal as AbortSignal));
        };
        const sleeper: Sleeper = {
          at: current + Math.max(0, ms),
          seq: seq++,
          resolve: () => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          },
        };
        sleepers.push(sleeper);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
    advance: (ms) => wakeDue(current + ms),
    async next() {
      await settle();
      sleepers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const first = sleepers[0];
      if (!first) return false;
      await wakeDue(first.at);
      return true;
    },
    set: (epochMs) => wakeDue(epochMs),
    get pending() {
      return sleepers.length;
    },
  };
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  return new DOMException('The operation was aborted', 'AbortError');
}
