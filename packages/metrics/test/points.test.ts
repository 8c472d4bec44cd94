import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Aggregator, prunePoints, type MetricPoint } from '../src/points.js';

const T0 = Date.UTC(2025, 9, 20);
const point = (timestamp: number): MetricPoint => ({
  name: 'QueueDepth',
  timestamp,
  sampleCount: 1,
  sum: 1,
  min: 1,
  max: 1,
});

describe('Aggregator', () => {
  it('aligns buckets to the epoch so 5-minute points never straddle an hour', () => {
    const aggregator = new Aggregator(300_000);
    aggregator.add('FailureCount', 1, T0 + 3_599_999);
    aggregator.add('FailureCount', 1, T0 + 3_600_000);
    expect(aggregator.takeAll().map((p) => p.timestamp)).toEqual([T0 + 3_300_000, T0 + 3_600_000]);
  });

  it('keeps the open bucket until it closes', () => {
    const aggregator = new Aggregator(300_000);
    aggregator.add('QueueDepth', 3, T0 + 10);
    aggregator.add('QueueDepth', 9, T0 + 300_010);
    expect(aggregator.takeBefore(aggregator.bucketStart(T0 + 300_020))).toEqual([
      { name: 'QueueDepth', timestamp: T0, sampleCount: 1, sum: 3, min: 3, max: 3 },
    ]);
    expect(aggregator.size).toBe(1);
  });

  it('keeps sum, count, min and max exact for any samples', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 1_000_000 }), { minLength: 1, maxLength: 200 }),
        (values) => {
          const aggregator = new Aggregator(300_000);
          for (const value of values) aggregator.add('BytesUploaded', value, T0 + 1);
          const [only, ...rest] = aggregator.takeAll();
          expect(rest).toEqual([]);
          expect(only).toEqual({
            name: 'BytesUploaded',
            timestamp: T0,
            sampleCount: values.length,
            sum: values.reduce((a, b) => a + b, 0),
            min: Math.min(...values),
            max: Math.max(...values),
          });
        },
      ),
    );
  });
});

describe('prunePoints', () => {
  it('drops points older than the age limit and then the oldest beyond the cap', () => {
    const sorted = [point(T0 - 100), point(T0 - 50), point(T0 - 10), point(T0 - 5), point(T0)];
    const result = prunePoints(sorted, T0, { maxAgeMs: 60, maxPoints: 2 });
    expect(result.expired).toBe(1);
    expect(result.overflow).toBe(2);
    expect(result.kept.map((p) => p.timestamp)).toEqual([T0 - 5, T0]);
  });

  it('never keeps more than the cap and accounts for every point', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 1000 }), { maxLength: 100 }),
        fc.integer({ min: 1, max: 50 }),
        (offsets, cap) => {
          const sorted = offsets.map((o) => point(T0 + o)).sort((a, b) => a.timestamp - b.timestamp);
          const result = prunePoints(sorted, T0 + 1000, { maxAgeMs: 500, maxPoints: cap });
          expect(result.kept.length).toBeLessThanOrEqual(cap);
          expect(result.kept.length + result.expired + result.overflow).toBe(sorted.length);
          expect(result.kept).toEqual(sorted.slice(sorted.length - result.kept.length));
        },
      ),
    );
  });
});
