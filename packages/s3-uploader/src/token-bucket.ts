import type { Clock } from './clock.js';
import { integerOption } from './options.js';

/**
 * A token bucket over bytes, shared by every request of one uploader. Waiters are served first come, first
 * served, so one large part cannot starve the small files queued behind it.
 */
export interface TokenBucket {
  /** Bytes per second; 0 means unlimited. */
  readonly rate: number;
  /** Changes the rate; waiters pick the new rate up within {@link MAX_WAIT_SLICE_MS}. */
  setRate(bytesPerSecond: number): void;
  /**
   * Resolves when `bytes` may be sent. `bytes` must not exceed {@link THROTTLE_CHUNK_BYTES}.
   * Rejects with the signal's reason when it fires.
   */
  take(bytes: number, signal?: AbortSignal): Promise<void>;
}

/** The size of the pieces a throttled body is cut into: small enough for a smooth rate at WiFi speeds. */
export const THROTTLE_CHUNK_BYTES = 16 * 1024;
/** The longest single sleep of a waiter, so a rate change (or unlimiting) takes effect quickly. */
export const MAX_WAIT_SLICE_MS = 250;
// A tenth of a second of burst keeps the rate smooth while letting a chunk through at any rate.
const BURST_SECONDS = 0.1;

/** Creates a bucket sending at most `bytesPerSecond` (0 = unlimited), starting full. */
export function createTokenBucket(clock: Clock, bytesPerSecond: number): TokenBucket {
  let rate = checkRate(bytesPerSecond);
  let capacity = capacityFor(rate);
  let tokens = capacity;
  let last = clock.now();
  let tail: Promise<void> = settled;

  const refill = (): void => {
    const now = clock.now();
    if (now > last) tokens = Math.min(capacity, tokens + ((now - last) / 1000) * rate);
    last = now;
  };

  const acquire = async (bytes: number, signal: AbortSignal | undefined): Promise<void> => {
    for (;;) {
      signal?.throwIfAborted();
      if (rate === 0) return;
      refill();
      if (tokens >= bytes) {
        tokens -= bytes;
        return;
      }
      const waitMs = Math.ceil(((bytes - tokens) / rate) * 1000);
      await clock.sleep(Math.max(1, Math.min(waitMs, MAX_WAIT_SLICE_MS)), signal);
    }
  };

  return {
    get rate() {
      return rate;
    },
    setRate(next) {
      const checked = checkRate(next);
      refill();
      rate = checked;
      capacity = capacityFor(rate);
      tokens = Math.min(tokens, capacity);
    },
    take(bytes, signal) {
      if (rate === 0 && tail === settled) return Promise.resolve();
      const turn = tail.then(() => acquire(bytes, signal));
      // A waiter that was aborted must not block the ones behind it.
      const next: Promise<void> = turn.then(
        () => undefined,
        () => undefined,
      );
      tail = next;
      // `next` never rejects (both outcomes map to undefined above).
      next.then(
        () => {
          if (tail === next) tail = settled;
        },
        () => undefined,
      );
      return turn;
    },
  };
}

const settled: Promise<void> = Promise.resolve();

function checkRate(value: number): number {
  return integerOption('bandwidthLimitBytesPerSecond', value, 0);
}

function capacityFor(rate: number): number {
  return Math.max(THROTTLE_CHUNK_BYTES, Math.floor(rate * BURST_SECONDS));
}
