import { createFakeClock, settle } from '@tvm/test-utils';
import { describe, expect, it } from 'vitest';
import { createTokenBucket, THROTTLE_CHUNK_BYTES } from '../src/index.js';

const CHUNK = THROTTLE_CHUNK_BYTES;

/** Tracks whether a promise has settled, without awaiting it. */
function track(promise: Promise<unknown>): { done: boolean; failed: unknown } {
  const state: { done: boolean; failed: unknown } = { done: false, failed: undefined };
  promise.then(
    () => (state.done = true),
    (error: unknown) => {
      state.done = true;
      state.failed = error;
    },
  );
  return state;
}

describe('createTokenBucket', () => {
  it('lets everything through at once when unlimited', async () => {
    const bucket = createTokenBucket(createFakeClock(), 0);
    const taken = track(Promise.all(Array.from({ length: 100 }, () => bucket.take(CHUNK))));
    await settle();
    expect(taken.done).toBe(true);
  });

  it('holds the configured rate over many chunks', async () => {
    const clock = createFakeClock();
    const start = clock.now();
    const rate = 10 * CHUNK; // 160 KiB/s
    const bucket = createTokenBucket(clock, rate);
    const all = track(Promise.all(Array.from({ length: 101 }, () => bucket.take(CHUNK))));
    while (!all.done) await clock.next();
    // The bucket starts full with one chunk (its burst), then 100 chunks at 10 per second.
    expect(clock.now() - start).toBeGreaterThanOrEqual(10_000);
    expect(clock.now() - start).toBeLessThanOrEqual(10_010);
  });

  it('serves waiters first come, first served', async () => {
    const clock = createFakeClock();
    const bucket = createTokenBucket(clock, CHUNK); // one chunk per second
    const order: number[] = [];
    const waits = [1, 2, 3].map((n) => bucket.take(CHUNK).then(() => order.push(n)));
    await clock.advance(1_000);
    expect(order).toEqual([1, 2]);
    await clock.advance(1_000);
    await Promise.all(waits);
    expect(order).toEqual([1, 2, 3]);
  });

  it('applies a new rate to waiters already queued', async () => {
    const clock = createFakeClock();
    const bucket = createTokenBucket(clock, 1_000); // a chunk would take 16 s
    await bucket.take(CHUNK);
    const waiting = track(bucket.take(CHUNK));
    await clock.advance(1_000);
    expect(waiting.done).toBe(false);
    bucket.setRate(0);
    await clock.advance(250);
    expect(waiting).toEqual({ done: true, failed: undefined });
    expect(bucket.rate).toBe(0);
  });

  it('rejects an aborted waiter without blocking the ones behind it', async () => {
    const clock = createFakeClock();
    const bucket = createTokenBucket(clock, CHUNK);
    await bucket.take(CHUNK);
    const controller = new AbortController();
    const aborted = track(bucket.take(CHUNK, controller.signal));
    const next = track(bucket.take(CHUNK));
    controller.abort();
    await clock.advance(1_000);
    expect(aborted.failed).toBeInstanceOf(Error);
    expect(next).toEqual({ done: true, failed: undefined });
  });

  it('throws a TypeError for a negative or fractional rate', () => {
    const bucket = createTokenBucket(createFakeClock(), 0);
    expect(() => bucket.setRate(-5)).toThrow(
      new TypeError('Expected `bandwidthLimitBytesPerSecond` to be an integer >= 0, got -5'),
    );
    expect(() => bucket.setRate(1.5)).toThrow(TypeError);
  });
});
