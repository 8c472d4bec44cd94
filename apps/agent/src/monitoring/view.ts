import type { StateStore } from '@tvm/durable-queue';
import type { Metrics } from '@tvm/metrics';
import type { HealthVerdict } from '../health.js';
import type { PauseState } from '../pipeline/index.js';
import { queueStats, type LaneOptions, type MonitoringView } from './exposition.js';

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

/** Reads a running agent into the plain {@link MonitoringView} the exposition renders. */
export function monitoringView(
  agent: MonitoringSource,
  now: number,
  verdict: HealthVerdict,
  lanes?: LaneOptions,
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
    queue: queueStats(agent.store.queue.list(), lanes),
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
