import { invalidOption } from './errors.js';
import type { MetricsSnapshot } from './metrics.js';

/** One sample of a {@link PrometheusFamily}: its labels (in the order given) and its value. */
export interface PrometheusSample {
  /** Label name -> value; values are escaped by the renderer. @default no labels */
  labels?: Readonly<Record<string, string>>;
  value: number;
}

/** One metric family of the text exposition: `# HELP`, `# TYPE` and its samples. */
export interface PrometheusFamily {
  /** `[a-zA-Z_:][a-zA-Z0-9_:]*`, e.g. `tvm_upload_queue_files`. */
  name: string;
  type: 'counter' | 'gauge';
  /** One line of help text. */
  help: string;
  /** May be empty: the family is then announced with no sample (a gauge not measured yet). */
  samples: readonly PrometheusSample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Renders metric families in the Prometheus text exposition format 0.0.4 (`Content-Type: text/plain;
 * version=0.0.4`), in the order given, one line per sample. Label values are escaped (`\`, `"`, newline); numbers
 * print as Prometheus reads them (`NaN`, `+Inf`).
 * @throws {TypeError} when a metric or label name is not a valid Prometheus name
 */
export function renderExposition(families: readonly PrometheusFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    if (!METRIC_NAME.test(family.name)) invalidOption('name', 'a Prometheus metric name', family.name);
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      let labels = '';
      if (sample.labels !== undefined) {
        const pairs: string[] = [];
        for (const [name, value] of Object.entries(sample.labels)) {
          if (!LABEL_NAME.test(name)) invalidOption('labels', 'Prometheus label names', name);
          pairs.push(`${name}="${escapeLabel(value)}"`);
        }
        if (pairs.length > 0) labels = `{${pairs.join(',')}}`;
      }
      lines.push(`${family.name}${labels} ${formatNumber(sample.value)}`);
    }
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

/**
 * Renders a snapshot in the Prometheus text exposition format (0.0.4), for a local scrape or `curl` on the vehicle.
 * Counters are totals since the process started, as Prometheus expects; Prometheus computes rates itself.
 */
export function renderPrometheus(snapshot: MetricsSnapshot): string {
  const families: PrometheusFamily[] = [];
  const vehicle = { vehicle_id: snapshot.vehicleId };
  const family = (
    name: string,
    type: 'counter' | 'gauge',
    help: string,
    samples: Array<[Record<string, string>, number]>,
  ): void => {
    families.push({
      name,
      type,
      help,
      samples: samples.map(([labels, value]) => ({ labels: { ...vehicle, ...labels }, value })),
    });
  };
  const byCategory = (counts: Record<string, number>): Array<[Record<string, string>, number]> =>
    Object.entries(counts)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([category, value]) => [{ category }, value]);
  const c = snapshot.counters;

  family('tvm_upload_files_total', 'counter', 'Files uploaded.', [[{}, c.FileCount]]);
  family('tvm_upload_bytes_total', 'counter', 'Bytes uploaded.', [[{}, c.BytesUploaded]]);
  family('tvm_upload_failures_total', 'counter', 'Failed upload attempts by error category.', [
    ...byCategory(snapshot.failuresByCategory),
  ]);
  family('tvm_upload_permanent_failures_total', 'counter', 'Files given up on by error category.', [
    ...byCategory(snapshot.permanentFailuresByCategory),
  ]);
  family('tvm_upload_retries_total', 'counter', 'Retries scheduled.', [[{}, c.RetryCount]]);
  family('tvm_upload_service_startups_total', 'counter', 'Agent starts recorded by this process.', [
    [{}, c.ServiceStartup],
  ]);
  family(
    'tvm_upload_deleted_unsent_total',
    'counter',
    'Files deleted before they were uploaded (data loss).',
    [[{}, c.DeletedUnsentFiles]],
  );
  family(
    'tvm_upload_disk_usage_percent',
    'gauge',
    'Used space of a log filesystem, percent.',
    Object.entries(snapshot.gauges.DiskUsagePercent)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([mount, reading]) => [{ mount }, reading.value]),
  );
  const queue = snapshot.gauges.QueueDepth;
  family(
    'tvm_upload_queue_depth',
    'gauge',
    'Files waiting in the upload queue.',
    queue ? [[{}, queue.value]] : [],
  );
  const oldest = snapshot.gauges.OldestPendingAgeSeconds;
  family(
    'tvm_upload_oldest_pending_age_seconds',
    'gauge',
    'Age of the oldest waiting file, seconds.',
    oldest ? [[{}, oldest.value]] : [],
  );
  const paused = snapshot.gauges.UploadsPaused;
  family(
    'tvm_upload_uploads_paused',
    'gauge',
    'Last UploadsPaused sample: 1 while uploads are paused, else 0.',
    paused ? [[{}, paused.value]] : [],
  );
  family('tvm_metrics_buffered_points', 'gauge', 'Metric points waiting to be sent to CloudWatch.', [
    [{}, snapshot.bufferedPoints],
  ]);
  family('tvm_metrics_sent_points_total', 'counter', 'Metric points CloudWatch accepted.', [
    [{}, snapshot.sentPoints],
  ]);
  family('tvm_metrics_dropped_points_total', 'counter', 'Metric points given up on, by reason.', [
    [{ reason: 'expired' }, snapshot.dropped.expired],
    [{ reason: 'overflow' }, snapshot.dropped.overflow],
    [{ reason: 'rejected' }, snapshot.dropped.rejected],
  ]);
  family(
    'tvm_metrics_last_publish_timestamp_seconds',
    'gauge',
    'When CloudWatch last accepted points, Unix seconds.',
    snapshot.lastPublishAt === null ? [] : [[{}, snapshot.lastPublishAt / 1000]],
  );
  return renderExposition(families);
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}
