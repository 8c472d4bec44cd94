import { createDiskGuard, POLICY_NAMES, type PolicyName, type StatfsFunction } from '@tvm/disk-guard';
import { openStateStore, type StateStore } from '@tvm/durable-queue';
import { createMetrics, type Metrics } from '@tvm/metrics';
import { statePaths, type AgentConfig } from '../src/config.js';
import { diskGuardOptions } from '../src/disk-guard-options.js';
import { Housekeeping } from '../src/housekeeping.js';
import { captureLogger } from './helpers.js';

/** The daemon's housekeeping over a config's real state directory, as `createAgent` wires it. */
export interface DaemonHousekeeping {
  housekeeping: Housekeeping;
  store: StateStore;
  metrics: Metrics;
  lines: string[];
  close(): Promise<void>;
}

/** Opens the state (taking its lock, as the daemon does) and builds the daemon's Housekeeping on it. */
export async function daemonHousekeeping(
  config: AgentConfig,
  options: { statfs?: StatfsFunction } = {},
): Promise<DaemonHousekeeping> {
  const logger = captureLogger();
  const paths = statePaths(config);
  const store = await openStateStore({
    queueFile: paths.queueFile,
    failedFile: paths.failedFile,
    registryFile: paths.registryFile,
    logger,
  });
  const metrics = createMetrics({ vehicleId: config.vehicle_id, logger });
  const guard = createDiskGuard({
    ...diskGuardOptions(config),
    logger,
    ...(options.statfs ? { statfs: options.statfs } : {}),
  });
  const enabled: Record<PolicyName, boolean> = {
    'after-upload': config.deletion.after_upload.enabled,
    'age-based': config.deletion.age_based.enabled,
    emergency: config.deletion.emergency.enabled,
  };
  const housekeeping = new Housekeeping(guard, store, metrics, logger, enabled, config.log_directories);
  return {
    housekeeping,
    store,
    metrics,
    lines: logger.lines,
    close: async () => {
      await store.close();
      await metrics.stop();
    },
  };
}

/** One housekeeping pass of every policy, as the daemon runs them. */
export function runAllPolicies(daemon: DaemonHousekeeping, reason = 'test pass'): Promise<void> {
  return daemon.housekeeping.run(POLICY_NAMES, reason);
}
