import { describe, expect, it } from 'vitest';
import {
  byLane,
  choosePreemption,
  LANES,
  laneOf,
  type LaneConfig,
  type RunningUpload,
} from '../src/lanes.js';

const config: LaneConfig = {
  priority_rules: [
    { pattern: '*.crash', priority: 'high' },
    { pattern: 'core.*', priority: 'low' },
    { pattern: '*.crash*', priority: 'low' },
  ],
  log_directories: [
    { source: 'ros', priority: 'low' },
    { source: 'syslog', priority: 'normal' },
    { source: 'alerts', priority: 'high' },
  ],
};

describe('laneOf', () => {
  it('lists the lanes highest first', () => {
    expect(LANES).toEqual(['incident', 'high', 'normal', 'low']);
  });

  it("takes the directory's priority, normal when the directory says nothing or is unknown", () => {
    expect(laneOf({ filepath: '/logs/ros/run.bag', source: 'ros' }, config)).toBe('low');
    expect(laneOf({ filepath: '/logs/alerts/a.log', source: 'alerts' }, config)).toBe('high');
    expect(laneOf({ filepath: '/logs/x/a.log', source: 'gone' }, config)).toBe('normal');
    expect(laneOf({ filepath: '/a.log' }, { priority_rules: [], log_directories: [] })).toBe('normal');
  });

  it("lets the first matching rule on the basename win over the directory's priority", () => {
    expect(laneOf({ filepath: '/logs/ros/planner.crash', source: 'ros' }, config)).toBe('high');
    // Neither `*.crash` nor `core.*` matches `x.crash.1`; the third rule does.
    expect(laneOf({ filepath: '/logs/alerts/x.crash.1', source: 'alerts' }, config)).toBe('low');
    expect(laneOf({ filepath: '/logs/alerts/core.123', source: 'alerts' }, config)).toBe('low');
    // On the basename only: a directory named like a pattern does not match.
    expect(laneOf({ filepath: '/logs/a.crash/run.log', source: 'syslog' }, config)).toBe('normal');
  });

  it("lets an entry's persisted priority win over everything (an incident upload)", () => {
    expect(laneOf({ filepath: '/logs/ros/core.1', source: 'ros', priority: 'incident' }, config)).toBe(
      'incident',
    );
    expect(laneOf({ filepath: '/logs/ros/a.bag', source: 'ros', priority: 'bogus' }, config)).toBe('low');
  });

  it('asks for the directory of a legacy entry without a source only when no rule decided', () => {
    let asked = 0;
    const where = () => {
      asked++;
      return 'alerts';
    };
    expect(laneOf({ filepath: '/logs/alerts/a.crash' }, config, where)).toBe('high');
    expect(asked).toBe(0);
    expect(laneOf({ filepath: '/logs/alerts/a.log' }, config, where)).toBe('high');
    expect(asked).toBe(1);
  });
});

describe('byLane', () => {
  it('puts higher lanes first and keeps the order inside a lane', () => {
    const items = [
      ['a', 'low'],
      ['b', 'normal'],
      ['c', 'high'],
      ['d', 'low'],
      ['e', 'incident'],
      ['f', 'high'],
    ] as const;
    expect(byLane(items, ([, lane]) => lane).map(([name]) => name)).toEqual(['e', 'c', 'f', 'b', 'a', 'd']);
  });
});

describe('choosePreemption', () => {
  const upload = (filepath: string, patch: Partial<RunningUpload> = {}): RunningUpload => ({
    filepath,
    lane: 'low',
    size: 100,
    multipart: true,
    pausing: false,
    startedAt: 0,
    ...patch,
  });

  it('pauses a multipart upload of the lowest lane, the smallest file in it, then the latest started', () => {
    const running = [
      upload('normal', { lane: 'normal', size: 1 }),
      upload('low-big', { size: 500 }),
      upload('low-small-old', { size: 50, startedAt: 1 }),
      upload('low-small-new', { size: 50, startedAt: 2 }),
    ];
    expect(choosePreemption(running, 'high')).toBe('low-small-new');
    expect(choosePreemption(running, 'normal')).toBe('low-small-new');
  });

  it('never pauses an upload of the same or a higher lane, a single request, or one already pausing', () => {
    expect(choosePreemption([upload('n', { lane: 'normal' })], 'normal')).toBeUndefined();
    expect(choosePreemption([upload('h', { lane: 'high' })], 'normal')).toBeUndefined();
    expect(choosePreemption([upload('l', { multipart: false })], 'high')).toBeUndefined();
    expect(choosePreemption([upload('l', { pausing: true })], 'high')).toBeUndefined();
    expect(choosePreemption([upload('h', { lane: 'high' })], 'incident')).toBe('h');
  });
});
