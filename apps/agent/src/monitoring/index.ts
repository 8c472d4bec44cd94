import { renderExposition } from '@tvm/metrics';
import type { HealthMonitor, HealthSource } from '../health.js';
import { renderMonitoring, type LaneOptions } from './exposition.js';
import { parseListen } from './listen.js';
import { startMonitoringServer, type MonitoringServer } from './server.js';
import { monitoringView, QueueStatsCache, type MonitoringSource } from './view.js';

export { DEFAULT_LISTEN, formatListen, isLoopbackHost, parseListen } from './listen.js';
export type { ListenAddress } from './listen.js';
export { monitoringFamilies, PAUSE_REASONS, queueStats, renderMonitoring } from './exposition.js';
export type { LaneOptions, MonitoringView, QueueStats } from './exposition.js';
export { answer, startMonitoringServer } from './server.js';
export type { MonitoringHandlers, MonitoringServer } from './server.js';
export { monitoringView, QUEUE_STATS_REFRESH_MS, QueueStatsCache, sampleGauges } from './view.js';
export type { MonitoringSource } from './view.js';

/** Options of {@link startMonitoring}. */
export interface MonitoringOptions {
  /** `monitoring.http.listen` (validated by the config). */
  listen: string;
  /** The agent running now, or undefined while it starts or restarts for a reload. */
  agent: () => (MonitoringSource & HealthSource) | undefined;
  /** The health decision the watchdog uses too. */
  health: HealthMonitor;
  /** Wall clock (ms). */
  now: () => number;
  /** Splits the queue gauges by priority lane. @default no lane label */
  lanes?: LaneOptions;
}

/** Starts `GET /metrics` and `GET /healthz` for the running agent. @throws when the address cannot be bound */
export async function startMonitoring(options: MonitoringOptions): Promise<MonitoringServer> {
  const listen = parseListen(options.listen);
  if ('problem' in listen) throw new TypeError(`monitoring.http.listen ${listen.problem}`);
  const queue = new QueueStatsCache(options.agent, options.now, options.lanes);
  const server = await startMonitoringServer(listen, {
    metrics() {
      const agent = options.agent();
      const now = options.now();
      if (agent === undefined) {
        return renderExposition([
          {
            name: 'tvm_upload_healthy',
            type: 'gauge',
            help: 'The /healthz verdict: 1 healthy, 0 not.',
            samples: [{ value: 0 }],
          },
        ]);
      }
      return renderMonitoring(
        monitoringView(agent, now, options.health.judge(agent, now), options.lanes, queue.get(agent)),
      );
    },
    health() {
      const agent = options.agent();
      if (agent === undefined) return { healthy: false, reason: 'starting: the agent is not running yet' };
      return options.health.judge(agent, options.now());
    },
  }).catch((error: unknown) => {
    queue.stop();
    throw error;
  });
  return {
    address: server.address,
    port: server.port,
    async close() {
      queue.stop();
      await server.close();
    },
  };
}
