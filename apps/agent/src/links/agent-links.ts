import { join } from 'node:path';
import type { Clock } from '../clock.js';
import type { AgentConfig } from '../config.js';
import type { AgentLogger } from '../logger.js';
import { MeteredAdmission } from './admission.js';
import { BUDGET_FILE, BUDGET_MB, BudgetStore } from './budget.js';
import { endpointHost } from './endpoint.js';
import { LinkWatch, type RouteTables } from './link.js';

/** What the agent wires in for `upload.networks`. */
export interface MeteredLinks {
  admission: MeteredAdmission;
  budget: BudgetStore;
  link: LinkWatch;
}

/** Options of {@link meteredLinks}. */
export interface MeteredLinksOptions {
  stateDir: string;
  clock: Clock;
  logger: AgentLogger;
  /** The pipeline's `pump()` (and anything else that follows a change of verdict). */
  wake: () => void;
  readTables?: () => RouteTables;
  resolve?: (host: string) => Promise<string[]>;
  /** @default 10000 */
  checkEveryMs?: number;
}

/**
 * The metered-link admission for this config, or undefined when `upload.networks` is absent (no metered behaviour).
 * The lists, the lanes and the budget are read from `config` (networks changes restart the agent); the time zone
 * from `current()`, as `upload.timezone` applies live.
 */
export async function meteredLinks(
  config: AgentConfig,
  current: () => AgentConfig,
  options: MeteredLinksOptions,
): Promise<MeteredLinks | undefined> {
  const networks = config.upload.networks;
  if (!networks) return undefined;
  const { clock, logger } = options;
  const link = new LinkWatch({
    host: endpointHost(config.s3),
    lists: { unmetered: networks.unmetered, metered: networks.metered },
    clock,
    logger,
    ...(options.readTables ? { readTables: options.readTables } : {}),
    ...(options.resolve ? { resolve: options.resolve } : {}),
  });
  const budget = await BudgetStore.open(
    join(options.stateDir, BUDGET_FILE),
    clock,
    () => current().upload.timezone,
    logger,
  );
  const admission = new MeteredAdmission({
    link: () => link.current(),
    refresh: () => link.refresh(),
    budget,
    rule: () => ({
      meteredLanes: networks.metered_lanes,
      budgetBytes: Math.floor(networks.metered_daily_budget_mb * BUDGET_MB),
    }),
    clock,
    logger,
    wake: options.wake,
    ...(options.checkEveryMs === undefined ? {} : { checkEveryMs: options.checkEveryMs }),
  });
  await link.refresh();
  return { admission, budget, link };
}
