import { describe, expect, it } from 'vitest';
import { datumBytes, splitIntoRequests, toDatum } from '../src/batches.js';
import type { MetricPoint } from '../src/points.js';

const T0 = Date.UTC(2025, 9, 20);
const points = (n: number): MetricPoint[] =>
  Array.from({ length: n }, (_, i) => ({
    name: 'QueueDepth',
    timestamp: T0 + i * 300_000,
    sampleCount: 1,
    sum: i,
    min: i,
    max: i,
  }));

describe('toDatum', () => {
  it('sends one sample as Value and several as a statistic set', () => {
    expect(
      toDatum({ name: 'FileCount', timestamp: T0, sampleCount: 1, sum: 1, min: 1, max: 1 }, 'v1'),
    ).toEqual({
      MetricName: 'FileCount',
      Dimensions: [{ Name: 'VehicleId', Value: 'v1' }],
      Timestamp: new Date(T0),
      Unit: 'Count',
      Value: 1,
    });
    expect(
      toDatum({ name: 'DiskUsagePercent', timestamp: T0, sampleCount: 3, sum: 150, min: 40, max: 60 }, 'v1'),
    ).toMatchObject({
      Unit: 'Percent',
      StatisticValues: { SampleCount: 3, Sum: 150, Minimum: 40, Maximum: 60 },
    });
  });
});

describe('splitIntoRequests', () => {
  it('puts at most 1000 datums in a request', () => {
    expect(splitIntoRequests(points(2500), 'v1', 'TVM/Upload').map((g) => g.length)).toEqual([
      1000, 1000, 500,
    ]);
  });

  it('keeps every request under the byte limit, in order', () => {
    const all = points(300);
    const size = datumBytes(toDatum(all[0] as MetricPoint, 'v1'));
    const groups = splitIntoRequests(all, 'v1', 'TVM/Upload', { maxBytes: size * 40 + 200 });
    expect(groups.flat()).toEqual(all);
    for (const group of groups) {
      const body = JSON.stringify({
        Namespace: 'TVM/Upload',
        MetricData: group.map((p) => ({ ...toDatum(p, 'v1'), Timestamp: p.timestamp / 1000 })),
      });
      expect(Buffer.byteLength(body)).toBeLessThanOrEqual(size * 40 + 200);
    }
    expect(groups.length).toBeGreaterThan(7);
  });

  it('returns no request for no points', () => {
    expect(splitIntoRequests([], 'v1', 'TVM/Upload')).toEqual([]);
  });
});
