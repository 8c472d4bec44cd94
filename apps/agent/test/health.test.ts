import { describe, expect, it } from 'vitest';
import {
  HealthMonitor,
  healthInputsOf,
  judgeHealth,
  progressAt,
  statusLine,
  type HealthInputs,
  type HealthSource,
} from '../src/health.js';

const MIN = 60_000;
const base: HealthInputs = {
  now: 100 * MIN,
  queued: 12,
  inFlight: 0,
  paused: undefined,
  stateWriteProblem: undefined,
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
      watchdog: true,
      problem: undefined,
      reason: '',
      status: '12 queued, online, last upload t1',
    });
  });

  it('is unhealthy and starves the watchdog when uploads in flight on an online destination make no progress', () => {
    const verdict = judgeHealth(
      { ...base, inFlight: 2, busySince: 80 * MIN, lastProgressAt: 85 * MIN },
      limits,
      at,
    );
    expect(verdict).toMatchObject({ healthy: false, watchdog: false, problem: 'stalled' });
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

  it('is unhealthy while paused (a refused connection is an outage), but keeps the watchdog fed: a restart cures no outage', () => {
    const paused = {
      kind: 'outage' as const,
      message: 'connect ECONNREFUSED\n 127.0.0.1:9',
      since: 98 * MIN,
    };
    expect(judgeHealth({ ...base, inFlight: 1, busySince: 0, paused }, limits, at)).toEqual({
      healthy: false,
      watchdog: true,
      problem: 'paused',
      reason: 'uploads paused (outage) for 120s: connect ECONNREFUSED 127.0.0.1:9',
      status: '12 queued, paused: outage: connect ECONNREFUSED 127.0.0.1:9, no upload yet',
    });
    const denied = {
      kind: 'destination' as const,
      message: 'AccessDenied: no s3:PutObject',
      since: 90 * MIN,
    };
    expect(judgeHealth({ ...base, paused: denied }, limits).reason).toBe(
      'uploads paused (destination) for 600s: AccessDenied: no s3:PutObject',
    );
  });

  it('is unhealthy when the state cannot be written, before any pause, and keeps the watchdog fed', () => {
    const verdict = judgeHealth(
      {
        ...base,
        paused: { kind: 'outage', message: 'ETIMEDOUT', since: 99 * MIN },
        stateWriteProblem: {
          error: 'Cannot write /state/queue.json: ENOSPC: no space left',
          since: 95 * MIN,
        },
      },
      limits,
      at,
    );
    expect(verdict).toMatchObject({ healthy: false, watchdog: true, problem: 'state-unwritable' });
    expect(verdict.reason).toBe(
      'state cannot be written for 300s: Cannot write /state/queue.json: ENOSPC: no space left',
    );
    expect(verdict.status).toBe(
      `12 queued, paused: outage: ETIMEDOUT, no upload yet, UNHEALTHY: ${verdict.reason}`,
    );
  });
});

function agentWith(inFlight: number): HealthSource & { inFlight: number } {
  const agent = {
    inFlight,
    store: { queue: { size: 1 }, writeProblem: undefined },
    pipeline: {
      paused: undefined,
      lastUpload: undefined,
      lastProgressAt: undefined,
      status: () => ({ inFlight: agent.inFlight }),
    },
  };
  return agent;
}

describe('HealthMonitor', () => {
  it('gives the watchdog tick and /healthz one verdict, counting a stretch of work from its first observation', () => {
    const monitor = new HealthMonitor(limits);
    const agent = agentWith(1);
    monitor.observe(agent, 0);
    expect(monitor.judge(agent, 10 * MIN).healthy).toBe(true);
    expect(monitor.judge(agent, 10 * MIN + 1)).toMatchObject({
      healthy: false,
      watchdog: false,
      problem: 'stalled',
    });
    // The work ends: the stretch is over, and a new one starts afresh.
    agent.inFlight = 0;
    monitor.observe(agent, 11 * MIN);
    agent.inFlight = 2;
    expect(monitor.judge(agent, 30 * MIN).healthy).toBe(true);
    monitor.observe(agent, 30 * MIN);
    expect(monitor.judge(agent, 40 * MIN + 1).healthy).toBe(false);
  });
});

describe('statusLine and the agent accessors', () => {
  it('reads the public agent fields; progress through progressAt alone', () => {
    const agent = {
      store: { queue: { size: 3 }, writeProblem: { error: 'EROFS', since: 1, code: 'EROFS', failures: 2 } },
      pipeline: {
        paused: { kind: 'destination' as const, message: 'AccessDenied: '.padEnd(300, 'x'), since: 45 * MIN },
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
      paused: { kind: 'destination', since: 45 * MIN },
      stateWriteProblem: { error: 'EROFS', since: 1 },
    });
    expect(statusLine(inputs, at)).toHaveLength(
      '3 queued, paused: '.length + 160 + ', last upload t40'.length,
    );
    expect(statusLine({ ...inputs, paused: undefined }, at)).toBe('3 queued, online, last upload t40');
  });
});
