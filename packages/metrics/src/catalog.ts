/** The CloudWatch units this package sends. */
export type MetricUnit = 'Count' | 'Bytes' | 'Percent' | 'Seconds';

/**
 * How samples of a metric combine within one publish interval:
 * - `counter`: events; the datum's Sum is how many happened (or how many bytes); sent only when something happened;
 * - `gauge`: a level sampled now and then; the datum carries min/max/sum/count of the samples.
 */
export type MetricKind = 'counter' | 'gauge';

/** Every metric name this package sends. */
export type MetricName =
  | 'FileCount'
  | 'BytesUploaded'
  | 'FailureCount'
  | 'PermanentFailureCount'
  | 'RetryCount'
  | 'DiskUsagePercent'
  | 'QueueDepth'
  | 'OldestPendingAgeSeconds'
  | 'UploadsPaused'
  | 'ServiceStartup'
  | 'DeletedUnsentFiles';

/** One row of the metric table: what the README documents and what the publisher sends. */
export interface MetricDefinition {
  unit: MetricUnit;
  kind: MetricKind;
  /** What an operator reads it as. */
  meaning: string;
}

/**
 * The metric table. The names, units and namespace are the old daemon's where it had them, so the runbook's
 * `aws cloudwatch get-metric-statistics` commands keep working.
 */
export const METRICS: Readonly<Record<MetricName, MetricDefinition>> = {
  FileCount: { unit: 'Count', kind: 'counter', meaning: 'Files uploaded' },
  BytesUploaded: { unit: 'Bytes', kind: 'counter', meaning: 'Bytes uploaded (one sample per file)' },
  FailureCount: {
    unit: 'Count',
    kind: 'counter',
    meaning: 'Failed upload attempts (temporary or permanent)',
  },
  PermanentFailureCount: { unit: 'Count', kind: 'counter', meaning: 'Files given up on (permanent failure)' },
  RetryCount: { unit: 'Count', kind: 'counter', meaning: 'Retries scheduled' },
  DiskUsagePercent: { unit: 'Percent', kind: 'gauge', meaning: 'Used space of a log filesystem, 0-100' },
  QueueDepth: { unit: 'Count', kind: 'gauge', meaning: 'Files waiting in the upload queue' },
  OldestPendingAgeSeconds: { unit: 'Seconds', kind: 'gauge', meaning: 'Age of the oldest file waiting' },
  UploadsPaused: {
    unit: 'Count',
    kind: 'gauge',
    meaning: 'Uploads paused (outage or destination error): 1 while paused, 0 while online',
  },
  ServiceStartup: { unit: 'Count', kind: 'counter', meaning: 'Agent starts' },
  DeletedUnsentFiles: {
    unit: 'Count',
    kind: 'counter',
    meaning: 'Files deleted before they were uploaded (emergency cleanup: data loss)',
  },
};

/** The namespace the runbook queries. */
export const DEFAULT_NAMESPACE = 'TVM/Upload';

/** The one dimension every datum carries (the alarms select on it). */
export const VEHICLE_DIMENSION = 'VehicleId';
