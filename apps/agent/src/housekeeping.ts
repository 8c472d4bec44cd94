import { applyForgetRequests, forgetFiles, type StateStore } from '@tvm/durable-queue';
import type { ApplyResult, DiskGuard, PolicyName } from '@tvm/disk-guard';
import type { Metrics } from '@tvm/metrics';
import { unsentEntries, type DeletionState, type LogDirectory } from './deletion-candidates.js';
import { planDeletion, resolveLogDirectories, storeState } from './deletion-plan.js';
import { inBackground } from './background.js';
import type { AgentLogger } from './logger.js';
import type { UnsentDeletion } from './manifests/index.js';

/**
 * Records deletions of files that were never uploaded (the emergency policy's data loss): their queue and
 * failed-list entries go (so nothing later reports `File not found` for them) and `DeletedUnsentFiles` counts each.
 * The guard has already logged the one `DATA LOSS:` line per file. Resolves with the paths that left the state.
 */
export function recordUnsentDeletions(
  store: StateStore,
  metrics: Metrics,
  state: DeletionState,
  directories: readonly LogDirectory[],
  deleted: ApplyResult['deleted'],
  logger: Pick<AgentLogger, 'error'>,
): string[] {
  const unsent = deleted.filter((d) => !d.uploaded);
  for (let i = 0; i < unsent.length; i++) metrics.fileDeletedUnsent();
  if (unsent.length === 0) return [];
  const { forgotten, durable } = forgetFiles(
    store,
    unsentEntries(
      state,
      directories,
      unsent.map((d) => d.path),
    ),
  );
  // Not awaited: on a full state disk the write waits in the store, and housekeeping (the emergency policy that frees
  // space) must go on meanwhile.
  inBackground(durable, logger, 'Recording the deleted, never-uploaded files');
  return forgotten.map((f) => f.filepath);
}

/** Runs deletion policies through the disk guard, and measures disk usage for the emergency policy and metrics. */
export class Housekeeping {
  #running: Promise<void> = Promise.resolve();
  #applying: Promise<void> = Promise.resolve();

  constructor(
    private readonly guard: DiskGuard,
    private readonly store: StateStore,
    private readonly metrics: Metrics,
    private readonly logger: AgentLogger,
    private readonly enabled: Readonly<Record<PolicyName, boolean>>,
    /** The configured log directories (`config.log_directories`), resolved again for every pass. */
    private readonly directories: readonly { readonly path: string }[],
    /** Told of every file deleted before it was uploaded (the delivery manifest's record of data loss). */
    private readonly onUnsent: (files: UnsentDeletion[]) => void = () => undefined,
  ) {}

  /**
   * Applies the forget requests `tvm-upload cleanup` left for files it deleted before they were uploaded: their
   * entries leave the queue and the failed list, one `DATA LOSS:` line and one `DeletedUnsentFiles` each (the
   * command ran in another process; this log is the daemon's record). `checkDisk()` and every pass call it; calls
   * never overlap; never rejects.
   */
  applyRequests(): Promise<void> {
    this.#applying = this.#applying.then(() => this.#applyRequests());
    return this.#applying;
  }

  async #applyRequests(): Promise<void> {
    try {
      const result = await applyForgetRequests(this.store, this.logger);
      this.onUnsent(
        result.forgotten.map((file) => ({
          path: file.filepath,
          size: file.size,
          mtimeMs: file.mtimeMs,
          policy: 'tvm-upload cleanup',
          reason: file.reason,
        })),
      );
      for (const file of result.forgotten) {
        this.metrics.fileDeletedUnsent();
        this.logger.error(
          `DATA LOSS: deleted ${file.filepath} (${file.size} bytes), never uploaded, by ${file.reason}; removed it from the queue and the failed list`,
        );
      }
    } catch (error) {
      this.logger.warn(`Applying forget requests failed: ${(error as Error).message}`);
    }
  }

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

  /**
   * Applies waiting forget requests, measures the filesystems holding the log directories, and runs the emergency
   * policy when one is not healthy.
   */
  async checkDisk(reason: string): Promise<void> {
    await this.applyRequests();
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
    await this.applyRequests();
    // An uploaded file may be deleted only once its registry record (and its leaving the queue) is durable: a crash
    // in between would bring it back as queued with its file gone ("File not found" for a file that is in S3). The
    // emergency policy does not wait: on a full disk that flush waits for the very space it is to free.
    if (!policies.includes('emergency')) await this.store.flush();
    const directories = await resolveLogDirectories(this.directories);
    const state = storeState(this.store);
    const plan = await planDeletion(this.guard, state, directories, policies);
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
    const unsent = result.deleted.filter((file) => !file.uploaded);
    if (unsent.length > 0) {
      const mtimes = new Map([...state.queue, ...state.failed].map((e) => [e.filepath, e.mtimeMs] as const));
      this.onUnsent(
        unsent.map((file) => ({
          path: file.path,
          size: file.size,
          mtimeMs: mtimes.get(file.path),
          policy: file.policy,
          reason: file.reason,
        })),
      );
    }
    const forgotten = recordUnsentDeletions(
      this.store,
      this.metrics,
      state,
      directories,
      result.deleted,
      this.logger,
    );
    if (forgotten.length > 0) {
      this.logger.info(
        `Removed ${forgotten.length} deleted, never-uploaded file(s) from the queue and the failed list`,
      );
    }
    if (result.deleted.length > 0) {
      this.logger.info(
        `Deletion policies (${policies.join(', ')}, ${reason}): deleted ${result.deleted.length} file(s), ${result.freedBytes} bytes`,
      );
    }
  }
}
