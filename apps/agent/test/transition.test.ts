import type { QueueEntry } from '@tvm/durable-queue';
import { describe, expect, it } from 'vitest';
import { transition, type Effect, type TransitionPolicy } from '../src/pipeline/index.js';

const policy: TransitionPolicy = {
  retry: { maxRetries: 10, initialDelayMs: 1000, maxDelayMs: 512_000 },
  bucket: 'b',
};
const NOW = 1_800_000_000_000;
const entry = (patch: Partial<QueueEntry> = {}): QueueEntry => ({
  filepath: '/logs/terminal/test.log',
  detectedAt: NOW - 1000,
  attempts: 0,
  nextAttemptAt: 0,
  ...patch,
});
const awsError = (name: string, status: number, message: string) =>
  Object.assign(new Error(message), { name, Code: name, $metadata: { httpStatusCode: status } });
const logs = (effects: Effect[]) =>
  effects.flatMap((e) => (e.type === 'log' && e.level !== 'debug' ? [e.message] : []));
const types = (effects: Effect[]) => effects.map((e) => e.type);

describe('transition', () => {
  it('a pause between parts is not an attempt: no queue change, no metric, one line', () => {
    const effects = transition(
      entry({ attempts: 2 }),
      { kind: 'paused', reason: 'a file of a higher lane takes the slot' },
      NOW,
      policy,
    );
    expect(types(effects)).toEqual(['log']);
    expect(logs(effects)).toEqual([
      'Upload of /logs/terminal/test.log paused after its current part (a file of a higher lane takes the slot); it resumes later',
    ]);
  });

  it('registers the verified version and removes nothing else when an upload succeeds', () => {
    const version = { dev: 1, ino: 2, size: 3, mtimeMs: 4 };
    const effects = transition(
      entry(),
      { kind: 'uploaded', key: 'v/k', bytes: 3, sha256: 'ab', version },
      NOW,
      policy,
    );
    expect(effects[0]).toEqual({ type: 'uploaded', key: 'v/k', version, bytesSent: 3 });
    expect(logs(effects)).toEqual(['Uploaded /logs/terminal/test.log to s3://b/v/k (3 bytes)']);
  });

  it.each([
    [0, 1, '1s'],
    [4, 5, '16s'],
    [9, 10, '512s'],
  ])('schedules retry %i+1 on the runbook schedule', (attempts, retry, delay) => {
    const effects = transition(
      entry({ attempts }),
      { kind: 'failed', error: awsError('SlowDown', 503, 'Please reduce your request rate.') },
      NOW,
      policy,
    );
    const update = effects.find((e) => e.type === 'queue-update');
    expect(update).toMatchObject({ patch: { attempts: retry } });
    expect(logs(effects).at(-1)).toBe(`Retry ${retry}/10 for test.log (next attempt in ${delay})`);
  });

  it('gives up with retries exhausted after the tenth retry', () => {
    const effects = transition(
      entry({ attempts: 10 }),
      { kind: 'failed', error: awsError('SlowDown', 503, 'Please reduce your request rate.') },
      NOW,
      policy,
    );
    expect(effects.find((e) => e.type === 'failed')).toMatchObject({
      category: 'retries-exhausted',
      attempts: 11,
    });
    expect(logs(effects)[0]).toMatch(
      /^PERMANENT FAILURE: retries exhausted \(10\/10\) for \/logs\/terminal\/test.log: /,
    );
  });

  it('sends a missing file to the failed list with the runbook lines', () => {
    const error = Object.assign(
      new Error("ENOENT: no such file or directory, open '/logs/terminal/test.log'"),
      {
        code: 'ENOENT',
      },
    );
    const effects = transition(entry(), { kind: 'failed', error }, NOW, policy);
    expect(types(effects)).toContain('failed');
    expect(logs(effects)).toEqual([
      "PERMANENT FAILURE: ENOENT: no such file or directory, open '/logs/terminal/test.log'",
      "Permanent upload error for test.log: ENOENT: no such file or directory, open '/logs/terminal/test.log'",
    ]);
  });

  it('keeps the entry and its retry state untouched on a destination error, and pauses (defect 3)', () => {
    const error = awsError(
      'InvalidAccessKeyId',
      403,
      'The AWS Access Key Id you provided does not exist in our records.',
    );
    const effects = transition(entry({ attempts: 3 }), { kind: 'failed', error }, NOW, policy);
    expect(types(effects)).not.toContain('failed');
    expect(types(effects)).not.toContain('queue-update');
    expect(types(effects)).toContain('pause-destination');
    expect(logs(effects)).toEqual([
      'PERMANENT FAILURE: InvalidAccessKeyId: The AWS Access Key Id you provided does not exist in our records.',
      'Permanent upload error for test.log: InvalidAccessKeyId: The AWS Access Key Id you provided does not exist in our records.',
    ]);
    // A second file meeting the same error during the pause adds no lines and changes nothing.
    const second = transition(entry(), { kind: 'failed', error, destinationPaused: true }, NOW, policy);
    expect(logs(second)).toEqual([]);
    expect(types(second)).toEqual(['log']);
  });

  it('spends no retry during an outage: due at once when the destination returns', () => {
    const error = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    const effects = transition(
      entry({ attempts: 2 }),
      { kind: 'failed', error, reachable: false },
      NOW,
      policy,
    );
    const update = effects.find((e) => e.type === 'queue-update');
    expect(update).toMatchObject({ patch: { nextAttemptAt: 0 } });
    expect(update && 'patch' in update && update.patch.attempts).toBeUndefined();
    expect(logs(effects)).toEqual([]);
  });

  it('counts a connectivity error against the budget when the destination answers', () => {
    const error = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    const effects = transition(entry(), { kind: 'failed', error, reachable: true }, NOW, policy);
    expect(effects.find((e) => e.type === 'queue-update')).toMatchObject({ patch: { attempts: 1 } });
  });

  it('rejects an entry with its reason, to the failed list', () => {
    const effects = transition(
      entry({ filepath: '/logs/terminal/../../etc/hostname' }),
      { kind: 'rejected', category: 'not-in-log-directory', reason: 'not a normalised path' },
      NOW,
      policy,
    );
    expect(types(effects)).toEqual(['failed', 'log']);
    expect(logs(effects)).toEqual([
      'Rejected queue entry "/logs/terminal/../../etc/hostname": not a normalised path',
    ]);
  });

  it('records nothing for a file whose entry left the queue during the attempt (deleted unsent)', () => {
    const error = Object.assign(
      new Error("ENOENT: no such file or directory, open '/logs/terminal/test.log'"),
      {
        code: 'ENOENT',
      },
    );
    const effects = transition(entry(), { kind: 'failed', error, dequeued: true }, NOW, policy);
    expect(types(effects)).toEqual(['log']);
    expect(logs(effects)).toEqual([]);
  });

  it('treats a shutdown as no attempt at all', () => {
    const error = Object.assign(new Error('tvm-upload is stopping'), { name: 'AbortError' });
    expect(types(transition(entry(), { kind: 'failed', error }, NOW, policy))).toEqual(['log']);
  });
});
