import type { MetricsSnapshot } from './metrics.js';

/**
 * Renders a snapshot in the Prometheus text exposition format (0.0.4), for a local scrape or `curl` on the vehicle.
 * Counters are totals since the process started, as Prometheus expects; Prometheus computes rates itself.
 */
export function renderPrometheus(snapshot: MetricsSnapshot): string {
  const lines: string[] = [];
  const vehicle = `vehicle_id="${escapeLabel(snapshot.vehicleId)}"`;
  const family = (
    name: string,
    type: 'counter' | 'gauge',
    help: string,
    samples: Array<[string, number]>,
  ): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) {
      lines.push(`${name}{${[vehicle, labels].filter(Boolean).join(',')}} ${formatNumber(value)}`);
    }
  };
  const byCategory = (counts: Record<string, number>): Array<[string, number]> =>
    Object.entries(counts)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([category, value]) => [`category="${escapeLabel(category)}"`, value]);
  const c = snapshot.counters;

  family('tvm_upload_files_total', 'counter', 'Files uploaded.', [['', c.FileCount]]);
  family('tvm_upload_bytes_total', 'counter', 'Bytes uploaded.', [['', c.BytesUploaded]]);
  family('tvm_upload_failures_total', 'counter', 'Failed upload attempts by error category.', [
    ...byCategory(snapshot.failuresByCategory),
  ]);
  family('tvm_upload_permanent_failures_total', 'counter', 'Files given up on by error category.', [
    ...byCategory(snapshot.permanentFailuresByCategory),
  ]);
  family('tvm_upload_retries_total', 'counter', 'Retries scheduled.', [['', c.RetryCount]]);
  family('tvm_upload_service_startups_total', 'counter', 'Agent starts recorded by this process.', [
    ['', c.ServiceStartup],
  ]);
  family(
    'tvm_upload_deleted_unsent_total',
    'counter',
    'Files deleted before they were uploaded (data loss).',
    [['', c.DeletedUnsentFiles]],
  );
  family(
    'tvm_upload_disk_usage_percent',
    'gauge',
    'Used space of a log filesystem, percent.',
    Object.entries(snapshot.gauges.DiskUsagePercent)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([mount, reading]) => [`mount="${escapeLabel(mount)}"`, reading.value]),
  );
  const queue = snapshot.gauges.QueueDepth;
  family(
    'tvm_upload_queue_depth',
    'gauge',
    'Files waiting in the upload queue.',
    queue ? [['', queue.value]] : [],
  );
  const oldest = snapshot.gauges.OldestPendingAgeSeconds;
  family(
    'tvm_upload_oldest_pending_age_seconds',
    'gauge',
    'Age of the oldest waiting file, seconds.',
    oldest ? [['', oldest.value]] : [],
  );
  family('tvm_metrics_buffered_points', 'gauge', 'Metric points waiting to be sent to CloudWatch.', [
    ['', snapshot.bufferedPoints],
  ]);
  family('tvm_metrics_sent_points_total', 'counter', 'Metric points CloudWatch accepted.', [
    ['', snapshot.sentPoints],
  ]);
  family('tvm_metrics_dropped_points_total', 'counter', 'Metric points given up on, by reason.', [
    ['reason="expired"', snapshot.dropped.expired],
    ['reason="overflow"', snapshot.dropped.overflow],
    ['reason="rejected"', snapshot.dropped.rejected],
  ]);
  family(
    'tvm_metrics_last_publish_timestamp_seconds',
    'gauge',
    'When CloudWatch last accepted points, Unix seconds.',
    snapshot.lastPublishAt === null ? [] : [['', snapshot.lastPublishAt / 1000]],
  );
  return `${lines.join('\n')}\n`;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}
