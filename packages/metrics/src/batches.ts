import type { MetricDatum } from '@aws-sdk/client-cloudwatch';
import { METRICS, VEHICLE_DIMENSION } from './catalog.js';
import type { MetricPoint } from './points.js';

/** CloudWatch's PutMetricData limits: 1000 datums and 1 MB of request body. */
export const MAX_DATUMS_PER_REQUEST = 1000;
export const MAX_REQUEST_BYTES = 1_000_000;

/** The PutMetricData datum of a point: a single Value for one sample, a statistic set for several. */
export function toDatum(point: MetricPoint, vehicleId: string): MetricDatum {
  const datum: MetricDatum = {
    MetricName: point.name,
    Dimensions: [{ Name: VEHICLE_DIMENSION, Value: vehicleId }],
    Timestamp: new Date(point.timestamp),
    Unit: METRICS[point.name].unit,
  };
  if (point.sampleCount === 1) {
    datum.Value = point.sum;
  } else {
    datum.StatisticValues = {
      SampleCount: point.sampleCount,
      Sum: point.sum,
      Minimum: point.min,
      Maximum: point.max,
    };
  }
  return datum;
}

/** Bytes a datum takes in the JSON 1.0 body (timestamps travel as epoch seconds), plus its separating comma. */
export function datumBytes(datum: MetricDatum): number {
  const wire = { ...datum, Timestamp: datum.Timestamp ? datum.Timestamp.getTime() / 1000 : undefined };
  return Buffer.byteLength(JSON.stringify(wire)) + 1;
}

/**
 * Splits points (already oldest first) into request-sized groups that respect both limits. The byte limit is
 * checked on the uncompressed JSON: the SDK gzips large bodies, but the limit is the service's, on what it decodes.
 */
export function splitIntoRequests(
  points: readonly MetricPoint[],
  vehicleId: string,
  namespace: string,
  limits: { maxDatums?: number; maxBytes?: number } = {},
): MetricPoint[][] {
  const maxDatums = limits.maxDatums ?? MAX_DATUMS_PER_REQUEST;
  // Room for `{"Namespace":"...","MetricData":[]}` around the datums.
  const maxBytes = (limits.maxBytes ?? MAX_REQUEST_BYTES) - Buffer.byteLength(JSON.stringify(namespace)) - 64;
  const groups: MetricPoint[][] = [];
  let current: MetricPoint[] = [];
  let bytes = 0;
  for (const point of points) {
    const size = datumBytes(toDatum(point, vehicleId));
    if (current.length > 0 && (current.length >= maxDatums || bytes + size > maxBytes)) {
      groups.push(current);
      current = [];
      bytes = 0;
    }
    current.push(point);
    bytes += size;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}
