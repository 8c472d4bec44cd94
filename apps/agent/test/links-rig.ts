import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FakeClock } from '@tvm/test-utils';
import type { AgentLogger } from '../src/logger.js';
import { BudgetStore, MeteredAdmission, type LinkWatch, type RouteTables } from '../src/links/index.js';

/** A routing table whose one route, the default, goes over `iface`. */
export function defaultRouteOver(iface: string): RouteTables {
  return {
    ipv4: `Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n${iface}\t00000000\t00000000\t0001\t0\t0\t0\t00000000\n`,
    ipv6: '',
  };
}

/**
 * The metered-link admission as the agent wires it to a {@link LinkWatch} (its link and its refresh), the high lane
 * allowed on metered links, a budget of `budgetBytes` in a fresh temporary file, the route checked every 10 s.
 */
export async function admissionOver(
  watch: LinkWatch,
  options: { clock: FakeClock; logger: AgentLogger; wake: () => void; budgetBytes: number },
): Promise<{ admission: MeteredAdmission; budget: BudgetStore }> {
  const { clock, logger, wake, budgetBytes } = options;
  const budget = await BudgetStore.open(
    join(await mkdtemp(join(tmpdir(), 'links-rig-')), 'metered-budget.json'),
    clock,
    () => 'UTC',
    logger,
  );
  const admission = new MeteredAdmission({
    link: () => watch.current(),
    refresh: () => watch.refresh(),
    budget,
    rule: () => ({ meteredLanes: ['high'], budgetBytes }),
    clock,
    logger,
    wake,
    checkEveryMs: 10_000,
  });
  return { admission, budget };
}
