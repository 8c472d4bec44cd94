import pRetry from 'p-retry';
import { describe, expect, it } from 'vitest';
import { pRetryOptions } from '../src/index.js';

describe('pRetryOptions', () => {
  it('drives p-retry with the runbook schedule', () => {
    expect(pRetryOptions()).toMatchObject({
      retries: 10,
      factor: 2,
      minTimeout: 1000,
      maxTimeout: 512_000,
      randomize: false,
    });
  });

  it('retries temporary errors until they pass', async () => {
    let calls = 0;
    const seen: string[] = [];
    const result = await pRetry(
      async () => {
        calls++;
        if (calls < 3) throw Object.assign(new Error('reset'), { code: 'ECONNRESET' });
        return 'done';
      },
      pRetryOptions({ initialDelayMs: 1, maxDelayMs: 2, onFailedAttempt: (c) => void seen.push(c.category) }),
    );
    expect(result).toBe('done');
    expect(calls).toBe(3);
    expect(seen).toEqual(['network', 'network']);
  });

  it('stops at once on a permanent error', async () => {
    let calls = 0;
    const failing = pRetry(
      async () => {
        calls++;
        throw Object.assign(new Error('Access Denied'), {
          name: 'AccessDenied',
          $metadata: { httpStatusCode: 403 },
        });
      },
      pRetryOptions({ initialDelayMs: 1, maxDelayMs: 1 }),
    );
    await expect(failing).rejects.toThrow('Access Denied');
    expect(calls).toBe(1);
  });

  it('gives up after the configured number of retries', async () => {
    let calls = 0;
    const failing = pRetry(
      async () => {
        calls++;
        throw Object.assign(new Error('slow down'), { name: 'SlowDown', $metadata: { httpStatusCode: 503 } });
      },
      pRetryOptions({ maxRetries: 3, initialDelayMs: 1, maxDelayMs: 1 }),
    );
    await expect(failing).rejects.toThrow('slow down');
    expect(calls).toBe(4);
  });
});
