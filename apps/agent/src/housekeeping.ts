import type { StateStore } from '@tvm/durable-queue';
import type { Candidate, DiskGuard, PolicyName } from '@tvm/disk-guard';
import type { Metrics } from '@tvm/metrics';
import type { AgentLogger } from './logger.js';

/**
 * What the deletion policies may consider: every uploaded version from the registry, every queued file (pending:
 * only the emergency policy may touch it) and every failed file. Files the agent never saw are never candidates.
 */
export function deletionCandidates(store: StateStore): Candidate[] {
  const candidates: Candidate[] = [];
  for (const entry of store.registry.list()) {
    candidates.push({
      path: entry.filepath,
      size: entry.size,
      mtimeMs: entry.mtimeMs,
      uploadedAt: entry.uploadedAt,
      pending: store.queue.has(entry.filepath),
    });
  }
  for (const entry of store.queue.list()) {
    if (entry.size === undefined || entry.mtimeMs === undefined) continue;
    candidates.push({ path: entry.filepath, size: entry.size, mtimeMs: entry.mtimeMs, pending: true });
  }
  for (const entry of store.failed.list()) {
    if (entry.size === undefined || entry.mtimeMs === undefined || store.queue.has(entry.filepath)) continue;
    candidates.push({ path: entry.filepath, size: entry.size, mtimeMs: entry.mtimeMs, pending: false });
  }
  return candidates;
}

/** Runs deletion policies through the disk guard, and measures disk usage for the emergency policy and metrics. */
export class Housekeeping {
  #running: Promise<void> = Promise.resolve();

  constructor(
    private readonly guard: DiskGuard,
    private readonly store: StateStore,
    private readonly metrics: Metrics,
    private readonly logger: AgentLogger,
    private readonly enabled: Readonly<Record<PolicyName, boolean>>,
  ) {}

  /** Runs `policies` (the enabled ones) now; calls never overlap. */
  run(policies: readonly PolicyName[], reason: string): Promise<void> {
    const wanted = policies.filter((p) => this.enabled[p]);
    if (wanted.length === 0) return this.#running;
    this.#running = this.#running
      .then(() => this.#run(wanted, reason))
      .catch((error: unknown) => {
        this.logger.error(`Deletion policies (${wanted.join(', ')}) failed: ${(error as Error).message}`);
      });
    return this.#running;
  }

  /** Measures the filesystems holding the log directories; runs the emergency policy when one is not healthy. */
  async checkDisk(reason: string): Promise<void> {
    let report;
    try {
      report = await this.guard.usage();
    } catch (error) {
      this.logger.warn(`Disk usage check failed: ${(error as Error).message}`);
      return;
    }
    let unhealthy = false;
    for (const fs of report.filesystems) {
      this.metrics.diskUsage(Math.min(100, fs.usedFraction * 100), fs.path);
      this.logger.debug(
        `Disk ${fs.path}: ${(fs.usedFraction * 100).toFixed(1)}% used, ${fs.freeBytes} bytes free (${fs.level})`,
      );
      if (!fs.healthy) unhealthy = true;
    }
    for (const problem of report.problems) this.logger.debug(`Disk usage: ${problem.message}`);
    if (unhealthy) await this.run(['emergency'], `${reason}: disk above threshold`);
  }

  async #run(policies: PolicyName[], reason: string): Promise<void> {
    const plan = await this.guard.plan({ candidates: deletionCandidates(this.store), policies });
    for (const refusal of plan.refused) {
      this.logger.debug(`Not deleting ${refusal.path} (${refusal.policy ?? 'check'}): ${refusal.reason}`);
    }
    for (const problem of plan.problems) this.logger.warn(`Deletion planning: ${problem.message}`);
    if (plan.entries.length === 0) {
      this.logger.debug(`Deletion policies (${policies.join(', ')}, ${reason}): nothing to delete`);
      return;
    }
    // The guard logs each deletion itself through our logger (`Deleted ...` at info, `DATA LOSS: ...` at error).
    const result = await this.guard.apply(plan);
    for (const refusal of result.refused) {
      this.logger.debug(`Not deleting ${refusal.path} (${refusal.policy ?? 'check'}): ${refusal.reason}`);
    }
    for (const error of result.errors) this.logger.warn(`Deleting failed: ${error.message}`);
    if (result.deleted.length > 0) {
      this.logger.info(
        `Deletion policies (${policies.join(', ')}, ${reason}): deleted ${result.deleted.length} file(s), ${result.freedBytes} bytes`,
      );
    }
  }
}
