import type { Clock } from './clock.js';
import { integerOption } from './options.js';

/**
 * A token bucket over bytes, shared by every request of one uploader (or of several, when passed to each as
 * `bandwidth`). Waiters are served first come, first served, so one large part cannot starve the small files queued
 * behind it.
 */
export interface TokenBucket {
  /** Bytes per second; 0 means unlimited. */
  readonly rate: number;
  /**
   * Whether request bodies are streamed through the bucket even while it is unlimited, so that a limit set later
   * slows the parts already in flight too (see {@link TokenBucketOptions.live}).
   */
  readonly live: boolean;
  /**
   * Changes the rate at once: waiters already queued (the parts in flight) are woken and continue at the new rate.
   * A lowered rate applies from the next chunk: the tokens saved up are cut to the start-up burst of the new rate.
   * @throws {TypeError} when `bytesPerSecond` is not a non-negative integer.
   */
  setRate(bytesPerSecond: number): void;
  /**
   * Resolves when `bytes` may be sent (pieces of {@link throttleChunkBytes} at the rate keep it smooth; a larger one
   * goes once the bucket is full, and its excess is paid back before the next).
   * Rejects with the signal's reason when it fires.
   */
  take(bytes: number, signal?: AbortSignal): Promise<void>;
}

/** The smallest piece a throttled body is cut into (see {@link throttleChunkBytes}). */
export const THROTTLE_CHUNK_BYTES = 16 * 1024;
const MAX_THROTTLE_CHUNK_BYTES = 256 * 1024;

/**
 * The piece a throttled body is cut into at `rate`: about 20 ms of the rate, from 16 KiB to 256 KiB. Smooth at any
 * rate, and few enough pieces per second that a busy CPU (each piece is a timer and a few promise turns) does not
 * hold the rate below the limit.
 */
export function throttleChunkBytes(rate: number): number {
  return Math.min(MAX_THROTTLE_CHUNK_BYTES, Math.max(THROTTLE_CHUNK_BYTES, Math.floor(rate / 50)));
}
/** The longest single sleep of a waiter (a rate change wakes waiters at once; this bounds a late timer). */
export const MAX_WAIT_SLICE_MS = 250;
/**
 * Tokens saved up in a pause of the sending, in seconds of the rate: the gaps between parts and files (a request's
 * round trip, hashing, a state commit, a slow event loop) are made up afterwards instead of lost, so the average
 * holds the limit. Only a pause shorter than this counts as a gap: a bucket idle for longer (or not used yet) holds
 * just the start-up tenth of a second, so an idle agent does not save up a burst.
 */
export const BURST_SECONDS = 1;
// A new bucket, or one whose rate was just changed, starts with a tenth of a second: no start-up surge.
const START_SECONDS = 0.1;

/** Options of {@link createTokenBucket}. */
export interface TokenBucketOptions {
  /**
   * Stream every request body through the bucket, even while unlimited (in 1 MiB pieces then), so that a limit set
   * later slows requests already being sent. Without it an unlimited body is the Buffer itself, which the SDK can
   * retry on its own; a streamed body cannot be retried by the SDK (the caller retries the part). @default false
   */
  live?: boolean;
}

/** Creates a bucket sending at most `bytesPerSecond` (0 = unlimited) on average. */
export function createTokenBucket(
  clock: Clock,
  bytesPerSecond: number,
  options: TokenBucketOptions = {},
): TokenBucket {
  const live = options.live === true;
  let rate = checkRate(bytesPerSecond);
  let tokens = startTokens(rate);
  let last = clock.now();
  let tail: Promise<void> = settled;
  let wake = new AbortController();
  // When a chunk was last asked for or granted; undefined until the first take.
  let lastDemand: number | undefined;
  // A waiter is asking now: however long the event loop stalled, that is no idle time.
  let asking = false;

  const refill = (): void => {
    const now = clock.now();
    if (now > last) {
      const inGap = asking || (lastDemand !== undefined && now - lastDemand <= BURST_SECONDS * 1000);
      const cap = inGap ? capacityFor(rate) : Math.max(tokens, startTokens(rate));
      tokens = Math.min(cap, tokens + ((now - last) / 1000) * rate);
    }
    last = now;
  };

  const acquire = async (bytes: number, signal: AbortSignal | undefined): Promise<void> => {
    try {
      await acquireTurn(bytes, signal);
    } finally {
      asking = false;
      lastDemand = clock.now();
    }
  };

  const acquireTurn = async (bytes: number, signal: AbortSignal | undefined): Promise<void> => {
    for (;;) {
      signal?.throwIfAborted();
      if (rate === 0) return;
      refill();
      lastDemand = clock.now();
      // A piece cut at an earlier, higher rate may exceed what the bucket holds now: it goes when the bucket is
      // full, leaving a debt the next pieces wait out.
      const need = Math.min(bytes, capacityFor(rate));
      if (tokens >= need) {
        tokens -= bytes;
        return;
      }
      const waitMs = Math.ceil(((need - tokens) / rate) * 1000);
      const woken = wake.signal;
      asking = true; // waiters go one at a time (the FIFO chain), so one flag is enough
      try {
        await sleepUnless(clock, Math.max(1, Math.min(waitMs, MAX_WAIT_SLICE_MS)), signal, woken);
      } catch (error) {
        if (!woken.aborted || signal?.aborted) throw error;
        // woken by setRate: look again at the new rate
      }
    }
  };

  return {
    get rate() {
      return rate;
    },
    live,
    setRate(next) {
      const checked = checkRate(next);
      if (checked === rate) return;
      refill();
      rate = checked;
      tokens = Math.min(tokens, startTokens(rate));
      wake.abort();
      wake = new AbortController();
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

/** Sleeps until `ms` pass or either signal fires (without `AbortSignal.any`, which leaks on long-lived signals). */
async function sleepUnless(
  clock: Clock,
  ms: number,
  signal: AbortSignal | undefined,
  woken: AbortSignal,
): Promise<void> {
  if (!signal) return clock.sleep(ms, woken);
  const both = new AbortController();
  const abort = (): void => both.abort();
  signal.addEventListener('abort', abort, { once: true });
  woken.addEventListener('abort', abort, { once: true });
  try {
    await clock.sleep(ms, both.signal);
  } finally {
    signal.removeEventListener('abort', abort);
    woken.removeEventListener('abort', abort);
  }
}

function checkRate(value: number): number {
  return integerOption('bandwidthLimitBytesPerSecond', value, 0);
}

function capacityFor(rate: number): number {
  return Math.max(THROTTLE_CHUNK_BYTES, rate * BURST_SECONDS);
}

function startTokens(rate: number): number {
  return Math.max(THROTTLE_CHUNK_BYTES, Math.floor(rate * START_SECONDS));
}
