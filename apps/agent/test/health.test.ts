import { describe, expect, it } from 'vitest';
import { healthInputsOf, judgeHealth, progressAt, statusLine, type HealthInputs } from '../src/health.js';

const MIN = 60_000;
const base: HealthInputs = {
  now: 100 * MIN,
  queued: 12,
  inFlight: 0,
  paused: undefined,
  lastProgressAt: undefined,
  busySince: undefined,
  lastUploadAt: undefined,
};
const limits = { progressTimeoutMs: 10 * MIN };
const at = (ms: number) => `t${ms / MIN}`;

describe('judgeHealth', () => {
  it('is healthy with nothing in flight, however long the queue waits (schedule, operational hours, backoff)', () => {
    expect(judgeHealth({ ...base, lastUploadAt: 1 * MIN }, limits, at)).toEqual({
      healthy: true,
      reason: '',
      status: '12 queued, online, last upload t1',
    });
  });

  it('is unhealthy when uploads in flight on an online destination make no progress within the limit', () => {
    const verdict = judgeHealth(
      { ...base, inFlight: 2, busySince: 80 * MIN, lastProgressAt: 85 * MIN },
      limits,
      at,
    );
    expect(verdict.healthy).toBe(false);
    expect(verdict.reason).toBe(
      'no upload progress for 900s with 2 upload(s) in flight while online (limit 600s)',
    );
    expect(verdict.status).toBe(`12 queued, online, no upload yet, UNHEALTHY: ${verdict.reason}`);
  });

  it('counts from the later of the last progress and the start of the work in flight', () => {
    // Progress long ago, but this stretch of work began 5 minutes ago: not yet stalled.
    expect(
      judgeHealth({ ...base, inFlight: 1, busySince: 95 * MIN, lastProgressAt: 10 * MIN }, limits).healthy,
    ).toBe(true);
    // Exactly at the limit is still healthy; one millisecond past it is not.
    expect(judgeHealth({ ...base, inFlight: 1, busySince: 90 * MIN }, limits).healthy).toBe(true);
    expect(
      judgeHealth({ ...base, now: 100 * MIN + 1, inFlight: 1, busySince: 90 * MIN }, limits).healthy,
    ).toBe(false);
  });

  it('is healthy while paused (an outage or a destination error is not the agent wedged)', () => {
    expect(
      judgeHealth({ ...base, inFlight: 1, busySince: 0, paused: 'outage: ECONNREFUSED' }, limits, at),
    ).toEqual({
      healthy: true,
      reason: '',
      status: '12 queued, paused: outage: ECONNREFUSED, no upload yet',
    });
  });
});

describe('statusLine and the agent accessors', () => {
  it('reads the public agent fields; progress through progressAt alone', () => {
    const agent = {
      store: { queue: { size: 3 } },
      pipeline: {
        paused: { kind: 'destination', message: 'AccessDenied: '.padEnd(300, 'x') },
        lastUpload: { at: 40 * MIN },
        lastProgressAt: 42 * MIN, // a part acknowledged after the last whole upload
        status: () => ({ inFlight: 1 }),
      },
    };
    expect(progressAt(agent)).toBe(42 * MIN);
    const inputs = healthInputsOf(agent, 50 * MIN, 49 * MIN);
    expect(inputs).toMatchObject({
      now: 50 * MIN,
      queued: 3,
      inFlight: 1,
      lastProgressAt: 42 * MIN,
      busySince: 49 * MIN,
    });
    expect(inputs.paused).toHaveLength(160);
    expect(statusLine({ ...inputs, paused: undefined }, at)).toBe('3 queued, online, last upload t40');
  });
});
