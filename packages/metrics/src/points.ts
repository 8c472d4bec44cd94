import { METRICS, type MetricName } from './catalog.js';

/**
 * One aggregated value of one metric over one publish interval: what becomes one CloudWatch datum and what the
 * on-disk buffer stores. Plain JSON, so a buffered point survives a restart unchanged.
 */
export interface MetricPoint {
  name: MetricName;
  /** Start of the interval the samples fell into, epoch ms (the datum's timestamp). */
  timestamp: number;
  sampleCount: number;
  sum: number;
  min: number;
  max: number;
}

const ORDER = Object.keys(METRICS) as MetricName[];

/**
 * Accumulates samples into fixed buckets of `intervalMs` aligned to the epoch, so 5-minute buckets line up with
 * CloudWatch's hourly and daily alarm periods and a bucket's samples never straddle two alarm periods.
 */
export class Aggregator {
  readonly #intervalMs: number;
  readonly #buckets = new Map<number, Map<MetricName, MetricPoint>>();

  constructor(intervalMs: number) {
    this.#intervalMs = intervalMs;
  }

  /** The start of the bucket holding time `at`. */
  bucketStart(at: number): number {
    return Math.floor(at / this.#intervalMs) * this.#intervalMs;
  }

  /** Adds one sample taken at `at`. */
  add(name: MetricName, value: number, at: number): void {
    const timestamp = this.bucketStart(at);
    let bucket = this.#buckets.get(timestamp);
    if (!bucket) {
      bucket = new Map();
      this.#buckets.set(timestamp, bucket);
    }
    const point = bucket.get(name);
    if (!point) {
      bucket.set(name, { name, timestamp, sampleCount: 1, sum: value, min: value, max: value });
      return;
    }
    point.sampleCount += 1;
    point.sum += value;
    point.min = Math.min(point.min, value);
    point.max = Math.max(point.max, value);
  }

  /** Removes and returns the points of every bucket that starts before `before`, oldest first. */
  takeBefore(before: number): MetricPoint[] {
    const starts = [...this.#buckets.keys()].filter((start) => start < before).sort((a, b) => a - b);
    const points: MetricPoint[] = [];
    for (const start of starts) {
      const bucket = this.#buckets.get(start);
      this.#buckets.delete(start);
      if (!bucket) continue;
      for (const name of ORDER) {
        const point = bucket.get(name);
        if (point) points.push(point);
      }
    }
    return points;
  }

  /** Removes and returns every point, including the bucket still open. */
  takeAll(): MetricPoint[] {
    return this.takeBefore(Number.POSITIVE_INFINITY);
  }

  /** How many points the open buckets would give now. */
  get size(): number {
    let size = 0;
    for (const bucket of this.#buckets.values()) size += bucket.size;
    return size;
  }
}

/** True when `value` has the shape of a {@link MetricPoint} (the buffer file is checked point by point). */
export function isMetricPoint(value: unknown): value is MetricPoint {
  if (typeof value !== 'object' || value === null) return false;
  const p = value as Record<string, unknown>;
  return (
    typeof p['name'] === 'string' &&
    Object.hasOwn(METRICS, p['name']) &&
    [p['timestamp'], p['sampleCount'], p['sum'], p['min'], p['max']].every(
      (n) => typeof n === 'number' && Number.isFinite(n),
    ) &&
    (p['sampleCount'] as number) >= 1
  );
}

/** Sorts points oldest first, keeping the catalog order within a timestamp (stable). */
export function byTimestamp(points: readonly MetricPoint[]): MetricPoint[] {
  return [...points].sort((a, b) => a.timestamp - b.timestamp);
}

/** What {@link prunePoints} kept and dropped. */
export interface PruneResult {
  kept: MetricPoint[];
  /** Older than CloudWatch accepts. */
  expired: number;
  /** Dropped, oldest first, because the buffer was full. */
  overflow: number;
}

/**
 * Applies the buffer's two limits to points sorted oldest first: CloudWatch refuses timestamps older than two weeks,
 * and the cap bounds the file on a vehicle's disk. Under the cap, the newest points win: they say the most about now.
 */
export function prunePoints(
  sorted: readonly MetricPoint[],
  now: number,
  limits: { maxAgeMs: number; maxPoints: number },
): PruneResult {
  const oldestAllowed = now - limits.maxAgeMs;
  const fresh = sorted.filter((point) => point.timestamp >= oldestAllowed);
  const expired = sorted.length - fresh.length;
  const overflow = Math.max(0, fresh.length - limits.maxPoints);
  return { kept: overflow > 0 ? fresh.slice(overflow) : fresh, expired, overflow };
}
