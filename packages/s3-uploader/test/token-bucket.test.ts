import { createFakeClock, settle } from '@tvm/test-utils';
import { describe, expect, it } from 'vitest';
import type { Readable } from 'node:stream';
import { S3Client } from '@aws-sdk/client-s3';
import {
  createTokenBucket,
  createUploader,
  THROTTLE_CHUNK_BYTES,
  throttleChunkBytes,
  type TokenBucket,
} from '../src/index.js';
import { requestBody } from '../src/adapters/throttled-body.js';

const CHUNK = THROTTLE_CHUNK_BYTES;

/** Takes chunk after chunk until one has to wait: the bytes the bucket granted at once (the last take stays queued). */
async function takenAtOnce(bucket: TokenBucket): Promise<number> {
  let atOnce = 0;
  for (;;) {
    const taken = track(bucket.take(CHUNK));
    await settle();
    if (!taken.done) return atOnce;
    atOnce += CHUNK;
  }
}

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

  it('applies a new rate to waiters already queued at once, without waiting out their sleep', async () => {
    const clock = createFakeClock();
    const bucket = createTokenBucket(clock, 1_000); // a chunk would take 16 s
    await bucket.take(CHUNK);
    const waiting = track(bucket.take(CHUNK));
    await clock.advance(1_000);
    expect(waiting.done).toBe(false);
    bucket.setRate(0);
    await settle();
    expect(waiting).toEqual({ done: true, failed: undefined });
    expect(bucket.rate).toBe(0);
  });

  /** Takes chunks back to back until `until` (fake time); returns the bytes taken. */
  async function sendUntil(clock: ReturnType<typeof createFakeClock>, bucket: TokenBucket, until: number) {
    let bytes = 0;
    for (;;) {
      const taken = track(bucket.take(CHUNK));
      while (!taken.done) {
        await settle();
        if (taken.done) break;
        if (clock.now() >= until) return bytes;
        await clock.next();
      }
      if (clock.now() > until) return bytes;
      bytes += CHUNK;
    }
  }

  it("makes up an idle gap between two transfers (a part's round trip, a state commit) instead of losing it", async () => {
    const clock = createFakeClock();
    const start = clock.now();
    const rate = 64 * CHUNK; // 1 MiB/s
    const bucket = createTokenBucket(clock, rate);
    const first = await sendUntil(clock, bucket, start + 2_000);
    await clock.advance(600); // nothing sent for 0.6 s
    const second = await sendUntil(clock, bucket, start + 5_000);
    // 5 s at the rate, plus the 0.1 s the bucket starts with; the 0.6 s gap is not lost.
    const expected = rate * 5 + rate * 0.1;
    expect(first + second).toBeGreaterThanOrEqual(expected - 2 * CHUNK);
    expect(first + second).toBeLessThanOrEqual(expected + 2 * CHUNK);
  });

  it('saves up at most one second of tokens in a gap, and nothing beyond its start after a longer idle', async () => {
    const clock = createFakeClock();
    const rate = 64 * CHUNK;
    const bucket = createTokenBucket(clock, rate);
    const drain = async (): Promise<number> => {
      let atOnce = 0;
      for (;;) {
        const taken = track(bucket.take(CHUNK));
        await settle();
        if (!taken.done) {
          while (!taken.done) await clock.next(); // leave the bucket empty, the last chunk granted now
          return atOnce;
        }
        atOnce += CHUNK;
      }
    };
    await drain();
    await clock.advance(1_000); // a gap of a second: made up
    expect(await drain()).toBe(rate);
    await clock.advance(60_000); // idle: starts again with a tenth of a second
    expect(await drain()).toBe(Math.floor((rate * 0.1) / CHUNK) * CHUNK);
  });

  it('counts a stall of the event loop during a wait as sending time, not idle time', async () => {
    // A starved process: the waiter's timer fires 3 s late.
    const fake = createFakeClock();
    let late = 0;
    const clock = { now: () => fake.now() + late, sleep: fake.sleep.bind(fake) };
    const rate = 64 * CHUNK;
    const bucket = createTokenBucket(clock, rate);
    for (let i = 0; i < 6; i++) await bucket.take(CHUNK); // the start tenth of a second
    const waiting = track(bucket.take(CHUNK));
    await settle(); // it sleeps for the missing tokens
    expect(waiting.done).toBe(false);
    late = 3_000;
    await fake.advance(250);
    expect(waiting.done).toBe(true);
    const atOnce = await takenAtOnce(bucket);
    // One second saved (the cap), not the start's tenth.
    expect(atOnce).toBeGreaterThanOrEqual(rate - CHUNK);
  });

  it('saves nothing beyond its start before its first use', async () => {
    const clock = createFakeClock();
    const rate = 64 * CHUNK;
    const bucket = createTokenBucket(clock, rate);
    await clock.advance(800); // the uploader hashes the file before the first byte
    const atOnce = await takenAtOnce(bucket);
    expect(atOnce).toBe(Math.floor((rate * 0.1) / CHUNK) * CHUNK);
  });

  it('starts with a tenth of a second of tokens, not a full second', async () => {
    const clock = createFakeClock();
    const rate = 100 * CHUNK;
    const bucket = createTokenBucket(clock, rate);
    const atOnce = await takenAtOnce(bucket);
    expect(atOnce).toBe(10 * CHUNK);
  });

  it('paces at a lowered rate from the next chunk: tokens saved at the old rate are cut', async () => {
    const clock = createFakeClock();
    const bucket = createTokenBucket(clock, 1024 * CHUNK); // 16 MiB/s, a second saved up below
    await clock.advance(1_000);
    bucket.setRate(10 * CHUNK);
    const start = clock.now();
    const sent = await sendUntil(clock, bucket, start + 2_000);
    // 2 s at the new rate plus its 0.1 s start, not the 16 MiB saved at the old one.
    expect(sent).toBeGreaterThanOrEqual(20 * CHUNK);
    expect(sent).toBeLessThanOrEqual(22 * CHUNK);
  });

  it('raises the rate for a waiter in the middle of its wait', async () => {
    const clock = createFakeClock();
    const bucket = createTokenBucket(clock, 164); // 100 s per chunk
    await bucket.take(CHUNK);
    const waiting = track(bucket.take(CHUNK));
    await clock.advance(250);
    bucket.setRate(CHUNK * 4); // the chunk now needs under 0.25 s
    await clock.advance(250);
    expect(waiting).toEqual({ done: true, failed: undefined });
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

describe('createUploader({ bandwidth })', () => {
  const client = new S3Client({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9' });

  it('shares one bucket between uploaders: a new limit set through one holds for both', () => {
    const bucket = createTokenBucket(createFakeClock(), 1_000);
    const one = createUploader({ client, bucket: 'b', bandwidth: bucket });
    createUploader({ client, bucket: 'b', bandwidth: bucket });
    one.setBandwidthLimit(2_000);
    expect(bucket.rate).toBe(2_000);
  });

  it('refuses a shared bucket together with a rate of its own, and a bucket that is not one', () => {
    const bucket = createTokenBucket(createFakeClock(), 1_000);
    expect(() =>
      createUploader({ client, bucket: 'b', bandwidth: bucket, bandwidthLimitBytesPerSecond: 5 }),
    ).toThrow(
      new TypeError('Expected `bandwidthLimitBytesPerSecond` to be absent when `bandwidth` is given, got 5'),
    );
    expect(() => createUploader({ client, bucket: 'b', bandwidth: {} as TokenBucket })).toThrow(
      'Expected `bandwidth` to be a token bucket from createTokenBucket(), got {}',
    );
  });
});

describe('requestBody() with a live bucket', () => {
  it('streams an unlimited body, and paces the rest of it once a limit is set mid-body', async () => {
    const clock = createFakeClock();
    const bucket = createTokenBucket(clock, 0, { live: true });
    const data = Buffer.alloc(4 * 1024 * 1024, 7);
    const body = requestBody(data, bucket, undefined);
    expect(Buffer.isBuffer(body)).toBe(false);
    const stream = body as Readable;
    let received = 0;
    stream.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received === 1024 * 1024) bucket.setRate(64 * CHUNK); // 1 MiB/s from here on
    });
    const ended = track(new Promise((resolve) => stream.on('end', resolve)));
    await settle();
    // Unpaced pieces up to the one read ahead when the limit came; from there on, 1 MiB/s.
    const atLimit = received;
    expect(atLimit).toBeLessThanOrEqual(2 * 1024 * 1024 + 0.1 * 64 * CHUNK);
    await clock.advance(1_000);
    expect(received - atLimit).toBeGreaterThanOrEqual(64 * CHUNK - CHUNK);
    expect(received - atLimit).toBeLessThanOrEqual(64 * CHUNK + CHUNK);
    await clock.advance(3_000);
    expect(ended.done).toBe(true);
    expect(received).toBe(data.length);
  });

  it('hands a body of one unlimited piece or less over as the Buffer itself, and paces it once limited', () => {
    const bucket = createTokenBucket(createFakeClock(), 0, { live: true });
    const piece = Buffer.alloc(1024 * 1024);
    expect(requestBody(piece, bucket, undefined)).toBe(piece);
    expect(Buffer.isBuffer(requestBody(Buffer.alloc(piece.length + 1), bucket, undefined))).toBe(false);
    bucket.setRate(64 * CHUNK);
    expect(Buffer.isBuffer(requestBody(Buffer.alloc(10), bucket, undefined))).toBe(false);
  });

  it('hands an unlimited body over as the Buffer itself when the bucket is not live', () => {
    const data = Buffer.alloc(10);
    expect(requestBody(data, createTokenBucket(createFakeClock(), 0), undefined)).toBe(data);
  });
});

describe('throttleChunkBytes', () => {
  it('cuts bodies into about 20 ms of the rate, from 16 KiB to 256 KiB', () => {
    expect(throttleChunkBytes(256 * 1024)).toBe(CHUNK);
    expect(throttleChunkBytes(3_125_000)).toBe(62_500);
    expect(throttleChunkBytes(100 * 1024 * 1024)).toBe(256 * 1024);
  });

  it('lets a piece cut at a higher rate through once the bucket is full, and makes the next wait out the excess', async () => {
    const clock = createFakeClock();
    const bucket = createTokenBucket(clock, 100 * CHUNK);
    const big = throttleChunkBytes(100 * CHUNK); // 32 KiB
    bucket.setRate(CHUNK); // 16 KiB/s: the bucket holds one chunk at most
    const start = clock.now();
    await bucket.take(big);
    const next = track(bucket.take(CHUNK));
    while (!next.done) await clock.next();
    // The 16 KiB of excess, then the chunk itself: 2 s at 16 KiB/s.
    expect(clock.now() - start).toBeGreaterThanOrEqual(2_000);
    expect(clock.now() - start).toBeLessThanOrEqual(2_010);
  });
});
