import type { QueueEntry } from '@tvm/durable-queue';
import { renderExposition, type PrometheusFamily, type PrometheusSample } from '@tvm/metrics';

/** What is waiting, summed over the queue by {@link queueStats}. */
export interface QueueStats {
  files: number;
  /** Sum of the entries' sizes as detected (entries without a size count 0). */
  bytes: number;
  /** The earliest `detectedAt` (ms), or undefined when the queue is empty. */
  oldestDetectedAt: number | undefined;
  /** Per lane, when a lane-of function was given: lane -> files and bytes. */
  lanes: Map<string, { files: number; bytes: number }> | undefined;
}

/** How {@link queueStats} splits the queue by lane (priority lanes: `incident`, `high`, `normal`, `low`). */
export interface LaneOptions {
  /** The lane of an entry. */
  laneOf: (entry: QueueEntry) => string;
  /** Lanes always reported (with 0 when empty), in this order; other lanes returned by `laneOf` follow. */
  lanes?: readonly string[];
}

/** One pass over the queue: files, bytes and the oldest entry, split by lane when `lanes` is given. */
export function queueStats(entries: Iterable<QueueEntry>, lanes?: LaneOptions): QueueStats {
  let files = 0;
  let bytes = 0;
  let oldest = Infinity;
  const byLane = lanes
    ? new Map((lanes.lanes ?? []).map((lane) => [lane, { files: 0, bytes: 0 }]))
    : undefined;
  for (const entry of entries) {
    const size = entry.size ?? 0;
    files += 1;
    bytes += size;
    if (entry.detectedAt < oldest) oldest = entry.detectedAt;
    if (byLane && lanes) {
      const lane = lanes.laneOf(entry);
      let sums = byLane.get(lane);
      if (!sums) {
        sums = { files: 0, bytes: 0 };
        byLane.set(lane, sums);
      }
      sums.files += 1;
      sums.bytes += size;
    }
  }
  return { files, bytes, oldestDetectedAt: oldest === Infinity ? undefined : oldest, lanes: byLane };
}

/** The reasons `tvm_upload_paused` always reports, one series each (0 or 1). */
export const PAUSE_REASONS = ['outage', 'destination'] as const;

/** Everything `GET /metrics` shows, as plain data (read from the agent by the server's caller). */
export interface MonitoringView {
  /** Wall-clock now (ms). */
  now: number;
  queue: QueueStats;
  /** Files on the failed list. */
  failedFiles: number;
  /** Since this agent started (an in-process restart on reload starts again at 0, as Prometheus allows). */
  uploadedFiles: number;
  uploadedBytes: number;
  failedAttempts: number;
  /** Why uploads are paused, or undefined. */
  paused: (typeof PAUSE_REASONS)[number] | undefined;
  /** When the last upload succeeded (ms), if known. */
  lastSuccessAt: number | undefined;
  /** Used fraction (0-1) of each log filesystem, by its path, as last measured. */
  diskUsage: Readonly<Record<string, number>>;
  /** Metric points waiting to be sent to CloudWatch. */
  metricsBufferedPoints: number;
  /** The health verdict (`/healthz`): 1 healthy, 0 not. */
  healthy: boolean;
}

/** The families of `GET /metrics`, in a fixed order. Pure. */
export function monitoringFamilies(view: MonitoringView): PrometheusFamily[] {
  const one = (value: number): PrometheusSample[] => [{ value }];
  const byLane = (pick: 'files' | 'bytes', total: number): PrometheusSample[] =>
    view.queue.lanes === undefined
      ? one(total)
      : [...view.queue.lanes].map(([lane, sums]) => ({ labels: { lane }, value: sums[pick] }));
  const oldest =
    view.queue.oldestDetectedAt === undefined
      ? 0
      : Math.max(0, (view.now - view.queue.oldestDetectedAt) / 1000);
  return [
    {
      name: 'tvm_upload_queue_files',
      type: 'gauge',
      help: 'Files waiting in the upload queue.',
      samples: byLane('files', view.queue.files),
    },
    {
      name: 'tvm_upload_queue_bytes',
      type: 'gauge',
      help: 'Bytes waiting in the upload queue (sizes as detected).',
      samples: byLane('bytes', view.queue.bytes),
    },
    {
      name: 'tvm_upload_oldest_pending_seconds',
      type: 'gauge',
      help: 'Age of the oldest file in the queue, seconds since it was queued (0 when empty).',
      samples: one(Math.round(oldest * 1000) / 1000),
    },
    {
      name: 'tvm_upload_failed_files',
      type: 'gauge',
      help: 'Files on the failed list (given up on).',
      samples: one(view.failedFiles),
    },
    {
      name: 'tvm_upload_uploaded_files_total',
      type: 'counter',
      help: 'Files uploaded since the agent started.',
      samples: one(view.uploadedFiles),
    },
    {
      name: 'tvm_upload_uploaded_bytes_total',
      type: 'counter',
      help: 'Bytes uploaded since the agent started.',
      samples: one(view.uploadedBytes),
    },
    {
      name: 'tvm_upload_failures_total',
      type: 'counter',
      help: 'Failed upload attempts (temporary or permanent) since the agent started.',
      samples: one(view.failedAttempts),
    },
    {
      name: 'tvm_upload_paused',
      type: 'gauge',
      help: 'Uploads paused: 1 for the reason that holds (outage: unreachable, connection refused; destination: credentials, access, bucket), else 0.',
      samples: PAUSE_REASONS.map((reason) => ({ labels: { reason }, value: view.paused === reason ? 1 : 0 })),
    },
    {
      name: 'tvm_upload_last_success_timestamp_seconds',
      type: 'gauge',
      help: 'When the last upload succeeded, Unix seconds (no sample before the first).',
      samples: view.lastSuccessAt === undefined ? [] : one(view.lastSuccessAt / 1000),
    },
    {
      name: 'tvm_upload_disk_usage_ratio',
      type: 'gauge',
      help: 'Used fraction (0-1) of each log filesystem, as last measured.',
      samples: Object.keys(view.diskUsage)
        .sort()
        .map((filesystem) => ({ labels: { filesystem }, value: view.diskUsage[filesystem] ?? 0 })),
    },
    {
      name: 'tvm_upload_metrics_buffered_points',
      type: 'gauge',
      help: 'Metric points waiting to be sent to CloudWatch.',
      samples: one(view.metricsBufferedPoints),
    },
    {
      name: 'tvm_upload_healthy',
      type: 'gauge',
      help: 'The /healthz verdict: 1 healthy, 0 not.',
      samples: one(view.healthy ? 1 : 0),
    },
  ];
}

/** `GET /metrics`: the text exposition of {@link monitoringFamilies}. */
export function renderMonitoring(view: MonitoringView): string {
  return renderExposition(monitoringFamilies(view));
}
