import type { StateStore } from '@tvm/durable-queue';
import type { Metrics } from '@tvm/metrics';
import type { HealthVerdict } from '../health.js';
import type { PauseState } from '../pipeline/index.js';
import { queueStats, type LaneOptions, type MonitoringView, type QueueStats } from './exposition.js';

/** The agent parts the monitoring view reads. */
export interface MonitoringSource {
  store: Pick<StateStore, 'queue' | 'failed' | 'registry'>;
  pipeline: { paused: PauseState | undefined; lastUpload: { at: number } | undefined };
  metrics: Pick<Metrics, 'snapshot'>;
}

// The newest upload the registry remembers, per store: one pass when first scraped, not one per scrape.
const registryNewest = new WeakMap<object, number | undefined>();

function newestRegistered(store: MonitoringSource['store']): number | undefined {
  if (registryNewest.has(store)) return registryNewest.get(store);
  let newest: number | undefined;
  for (const entry of store.registry.values()) {
    if (newest === undefined || entry.uploadedAt > newest) newest = entry.uploadedAt;
  }
  registryNewest.set(store, newest);
  return newest;
}

/**
 * Reads a running agent into the plain {@link MonitoringView} the exposition renders. `queue` is the queue's
 * summary when the caller keeps one ({@link QueueStatsCache}); without it the queue is summed now.
 */
export function monitoringView(
  agent: MonitoringSource,
  now: number,
  verdict: HealthVerdict,
  lanes?: LaneOptions,
  queue: QueueStats = queueStats(agent.store.queue.list(), lanes),
): MonitoringView {
  const snapshot = agent.metrics.snapshot();
  const diskUsage: Record<string, number> = {};
  for (const [filesystem, reading] of Object.entries(snapshot.gauges.DiskUsagePercent)) {
    diskUsage[filesystem] = reading.value / 100;
  }
  // After a restart the pipeline has uploaded nothing yet; the registry knows the last upload before it.
  const lastSuccessAt = agent.pipeline.lastUpload?.at ?? newestRegistered(agent.store);
  return {
    now,
    queue,
    failedFiles: agent.store.failed.size,
    uploadedFiles: snapshot.counters.FileCount,
    uploadedBytes: snapshot.counters.BytesUploaded,
    failedAttempts: snapshot.counters.FailureCount,
    paused: agent.pipeline.paused?.kind,
    lastSuccessAt,
    diskUsage,
    metricsBufferedPoints: snapshot.bufferedPoints,
    healthy: verdict.healthy,
  };
}

/**
 * Samples the gauges CloudWatch gets from the agent's state: QueueDepth, OldestPendingAgeSeconds and UploadsPaused.
 * Called more often than the publish interval (and on every pause change), so every interval has a sample: the
 * UploadsPaused alarm reads each interval's Minimum.
 */
export function sampleGauges(
  agent: Pick<MonitoringSource, 'store' | 'pipeline'>,
  metrics: Pick<Metrics, 'queueDepth' | 'oldestPendingAge' | 'uploadsPaused'>,
  now: number,
): void {
  const stats = queueStats(agent.store.queue.list());
  metrics.queueDepth(stats.files);
  // 0 when nothing waits: the fleet widget then shows the vehicle caught up, not its last backlog.
  metrics.oldestPendingAge(
    stats.oldestDetectedAt === undefined ? 0 : Math.max(0, (now - stats.oldestDetectedAt) / 1000),
  );
  metrics.uploadsPaused(agent.pipeline.paused !== undefined);
}

/** How often {@link QueueStatsCache} sums the queue again, in ms: the queue gauges of /metrics are this fresh. */
export const QUEUE_STATS_REFRESH_MS = 1_000;

/**
 * The queue's summary, summed again every second off the request path: with 100,000 files queued one pass costs
 * milliseconds, and a scrape must answer in less. A summary older than two refreshes (the timer starved, or the
 * agent was replaced) is summed at once instead of served.
 */
export class QueueStatsCache {
  #stats: { of: object; at: number; value: QueueStats } | undefined;
  readonly #timer: NodeJS.Timeout;

  constructor(
    private readonly source: () => Pick<MonitoringSource, 'store'> | undefined,
    private readonly now: () => number,
    private readonly lanes?: LaneOptions,
  ) {
    this.#timer = setInterval(() => {
      const agent = this.source();
      if (agent) this.#sum(agent);
    }, QUEUE_STATS_REFRESH_MS);
    this.#timer.unref();
  }

  /** The summary of `agent`'s queue, at most about a second old. */
  get(agent: Pick<MonitoringSource, 'store'>): QueueStats {
    const cached = this.#stats;
    if (cached && cached.of === agent.store && this.now() - cached.at <= 2 * QUEUE_STATS_REFRESH_MS) {
      return cached.value;
    }
    return this.#sum(agent);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #sum(agent: Pick<MonitoringSource, 'store'>): QueueStats {
    const value = queueStats(agent.store.queue.list(), this.lanes);
    this.#stats = { of: agent.store, at: this.now(), value };
    return value;
  }
}
