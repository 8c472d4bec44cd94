import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_RETRIES, decide, retryDelayMs } from '../src/index.js';

const temporary = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
const permanent = Object.assign(new Error('no such file'), { code: 'ENOENT', path: '/tmp/x.log' });

describe('retryDelayMs', () => {
  it('follows the runbook schedule 1, 2, 4 ... 512 s for retries 1..10', () => {
    const delays = Array.from({ length: DEFAULT_MAX_RETRIES }, (_, i) => retryDelayMs(i + 1) / 1000);
    expect(delays).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256, 512]);
  });

  it('caps the delay', () => {
    expect(retryDelayMs(20)).toBe(512_000);
    expect(retryDelayMs(3, { initialDelayMs: 10, factor: 3, maxDelayMs: 50 })).toBe(50);
  });

  it('rejects invalid input with a message naming it', () => {
    expect(() => retryDelayMs(0)).toThrow('Expected `retryNumber` to be a positive integer, got 0');
    expect(() => retryDelayMs(1, { factor: 0.5 })).toThrow('Expected `factor` to be a number >= 1, got 0.5');
    expect(() => retryDelayMs(1, { initialDelayMs: -1 })).toThrow(TypeError);
  });
});

describe('decide', () => {
  it('retries a temporary error with the next delay', () => {
    expect(decide(temporary, 0)).toMatchObject({
      action: 'retry',
      retryNumber: 1,
      delayMs: 1000,
      counted: true,
    });
    expect(decide(temporary, 9)).toMatchObject({ action: 'retry', retryNumber: 10, delayMs: 512_000 });
  });

  it('gives up once the budget is spent', () => {
    expect(decide(temporary, 10)).toMatchObject({ action: 'give-up', reason: 'retries-exhausted' });
    expect(decide(temporary, 2, { maxRetries: 2 })).toMatchObject({
      action: 'give-up',
      reason: 'retries-exhausted',
    });
  });

  it('gives up at once on a permanent error', () => {
    const decision = decide(permanent, 0);
    expect(decision).toMatchObject({ action: 'give-up', reason: 'permanent' });
    expect(decision.classification.message).toBe('File not found: /tmp/x.log');
  });

  it('does not count a cancellation against the budget', () => {
    const aborted = new DOMException('aborted', 'AbortError');
    expect(decide(aborted, 10)).toMatchObject({
      action: 'retry',
      counted: false,
      retryNumber: 10,
      delayMs: 0,
    });
  });

  it('waits longer when the server asks for it, never past the cap', () => {
    const hinted = { statusCode: 503, headers: { 'retry-after': '30' } };
    expect(decide(hinted, 0)).toMatchObject({ action: 'retry', delayMs: 30_000 });
    const huge = { statusCode: 503, headers: { 'retry-after': '99999' } };
    expect(decide(huge, 0)).toMatchObject({ action: 'retry', delayMs: 512_000 });
  });

  it('honours a custom schedule', () => {
    expect(decide(temporary, 2, { initialDelayMs: 10, factor: 2, maxDelayMs: 1000 })).toMatchObject({
      delayMs: 40,
    });
  });

  it('rejects a negative retry count', () => {
    expect(() => decide(temporary, -1)).toThrow(
      'Expected `retriesSoFar` to be a non-negative integer, got -1',
    );
  });
});
