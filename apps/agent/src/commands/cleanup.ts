import type { DeletedFile, Plan, PlanEntry } from '@tvm/disk-guard';
import {
  QueueError,
  applyForgetRequests,
  openStateStore,
  requestForget,
  type StatePathsOptions,
} from '@tvm/durable-queue';
import { statePaths, type AgentConfig } from '../config.js';
import { unsentEntries, type LogDirectory } from '../deletion-candidates.js';
import { planDeletion, resolveLogDirectories } from '../deletion-plan.js';
import { silentLogger, type AgentLogger } from '../logger.js';
import { diskGuardFor } from './disk.js';
import {
  EXIT,
  createProgress,
  formatBytes,
  loadCommandConfig,
  parseCommandArgs,
  printJson,
  processIo,
  table,
  type CommandIo,
} from './shared.js';
import { readOpsState, type OpsState } from './state.js';

const USAGE = `Usage: tvm-upload cleanup [--dry-run] [--config <path>] [--json]
Applies the deletion policies now (deletion.after_upload, deletion.age_based, deletion.emergency) through the
same safety checks as the agent, on the same candidates: the files the agent knows (uploaded, queued, failed).
--dry-run lists what would be deleted and why, and deletes nothing.
`;

/** What the deletion of never-uploaded files did to the state. */
type ForgetOutcome = 'none' | 'applied' | 'pending';

/** Files deleted per `apply()` call, so a long clean-up shows progress and can stop between batches. */
const BATCH = 50;

/** `tvm-upload cleanup`. Exit 0, or 1 when a deletion failed or the config is invalid, 2 for usage errors. */
export async function cleanupCommand(args: string[], io: CommandIo = processIo): Promise<number> {
  const parsed = parseCommandArgs(args, { 'dry-run': { type: 'boolean', default: false } }, USAGE, io);
  if ('exit' in parsed) return parsed.exit;
  const config = await loadCommandConfig(parsed.values.config, io);
  if (!config) return EXIT.failure;
  const dryRun = parsed.values['dry-run'] === true;
  const json = parsed.values.json;
  const state = await readOpsState(config);
  // The guard's one `DATA LOSS:` line per never-uploaded file it deletes goes to stderr; the rest is in the report.
  const logger: AgentLogger = { ...silentLogger, error: (message) => io.stderr(`${message}\n`) };
  const guard = diskGuardFor(config, logger);
  const directories = await resolveLogDirectories(config.log_directories);
  const plan = await planDeletion(guard, state.snapshot, directories);

  if (dryRun) {
    if (json) printJson(io, { dryRun: true, ...planJson(plan) });
    else io.stdout(renderPlan(plan, true));
    return EXIT.ok;
  }

  if (!json) io.stdout(renderPlan(plan, false));
  const progress = createProgress(
    json ? { ...io, stdout: () => {} } : io,
    'deleting',
    plan.entries.length,
    BATCH,
  );
  const deleted = [];
  const skipped = [];
  const errors: string[] = [];
  const refused = [...plan.refused];
  let freedBytes = 0;
  for (let i = 0; i < plan.entries.length; i += BATCH) {
    const entries = plan.entries.slice(i, i + BATCH);
    const result = await guard.apply({ ...plan, entries, refused: [] });
    deleted.push(...result.deleted);
    skipped.push(...result.skipped);
    refused.push(...result.refused);
    errors.push(...result.errors.map((e) => e.message));
    freedBytes += result.freedBytes;
    progress.tick(entries.length);
  }
  progress.end();
  const { outcome, forgotten } = await forgetUnsent(config, state, directories, deleted);
  if (json) {
    printJson(io, {
      dryRun: false,
      deleted,
      freedBytes,
      // Queue and failed-list entries of the never-uploaded files deleted; `applied`, or `pending` for the agent.
      forgotten,
      forgetRequest: outcome === 'none' ? null : outcome,
      skipped,
      refused: refused.map((r) => ({
        path: r.path,
        code: r.code,
        reason: r.reason,
        policy: r.policy ?? null,
      })),
      errors,
    });
  } else {
    io.stdout(`Deleted ${deleted.length} file(s), freed ${formatBytes(freedBytes)}.\n`);
    if (outcome === 'applied')
      io.stdout(`Removed ${forgotten.length} never-uploaded file(s) from the queue and the failed list.\n`);
    if (outcome === 'pending') {
      io.stdout(
        `Asked the running agent${state.agentPid === undefined ? '' : ` (pid ${state.agentPid})`} to remove ${forgotten.length} never-uploaded file(s) from its queue and failed list (within a minute).\n`,
      );
    }
    for (const s of skipped) io.stdout(`skipped ${s.path}: ${s.reason}\n`);
    for (const e of errors) io.stderr(`error: ${e}\n`);
  }
  return errors.length > 0 ? EXIT.failure : EXIT.ok;
}

function planJson(plan: Plan) {
  return {
    entries: plan.entries.map((e) => ({
      path: e.path,
      size: e.size,
      policy: e.policy,
      reason: e.reason,
      uploaded: e.uploaded,
      dataLoss: e.dataLoss,
    })),
    bytes: plan.entries.reduce((sum, e) => sum + e.size, 0),
    refused: plan.refused.map((r) => ({
      path: r.path,
      code: r.code,
      reason: r.reason,
      policy: r.policy ?? null,
    })),
    filesystems: plan.filesystems.map((f) => ({
      path: f.path,
      usedFraction: f.usedFraction,
      level: f.level,
      bytesToFree: f.bytesToFree,
    })),
    problems: plan.problems.map((p) => p.message),
  };
}

function renderPlan(plan: Plan, dryRun: boolean): string {
  const out: string[] = [];
  const bytes = plan.entries.reduce((sum, e) => sum + e.size, 0);
  if (plan.entries.length === 0) out.push(dryRun ? 'Nothing to delete now.' : 'Nothing to delete.');
  else {
    out.push(
      `${dryRun ? 'Would delete' : 'Deleting'} ${plan.entries.length} file(s), ${formatBytes(bytes)}:`,
      table(
        ['POLICY', 'SIZE', 'PATH', 'WHY'],
        plan.entries.map((e: PlanEntry) => [
          e.policy,
          formatBytes(e.size),
          e.path,
          `${e.reason}${e.dataLoss ? ' [NEVER UPLOADED]' : ''}`,
        ]),
      ).trimEnd(),
    );
  }
  if (plan.refused.length > 0) {
    out.push(`Kept ${plan.refused.length} file(s) a policy selected, by the safety checks:`);
    for (const r of plan.refused.slice(0, 20)) out.push(`  ${r.path}: ${r.reason}`);
    if (plan.refused.length > 20) out.push(`  ... and ${plan.refused.length - 20} more (--json lists all)`);
  }
  for (const p of plan.problems) out.push(`note: ${p.message}`);
  return `${out.join('\n')}\n`;
}

/**
 * Takes the never-uploaded files just deleted out of the queue and the failed list, as the daemon does after its
 * own emergency deletions: leaves a forget request, which a running agent applies (the command never takes its
 * lock); with none running, opens the store and applies it now.
 */
async function forgetUnsent(
  config: AgentConfig,
  state: OpsState,
  directories: readonly LogDirectory[],
  deleted: readonly DeletedFile[],
): Promise<{ outcome: ForgetOutcome; forgotten: string[] }> {
  const files = unsentEntries(
    state.snapshot,
    directories,
    deleted.filter((d) => !d.uploaded).map((d) => d.path),
  );
  if (files.length === 0) return { outcome: 'none', forgotten: [] };
  const paths = statePaths(config);
  const storePaths: StatePathsOptions = {
    queueFile: paths.queueFile,
    failedFile: paths.failedFile,
    registryFile: paths.registryFile,
  };
  await requestForget(storePaths, files, 'tvm-upload cleanup');
  const forgotten = files.map((f) => f.filepath);
  if (state.agentPid !== undefined) return { outcome: 'pending', forgotten };
  try {
    const store = await openStateStore({ ...storePaths, logger: silentLogger });
    try {
      await applyForgetRequests(store, silentLogger);
    } finally {
      await store.close();
    }
    return { outcome: 'applied', forgotten };
  } catch (error) {
    // An agent started in between and holds the lock: it applies the request itself.
    if (error instanceof QueueError && error.code === 'LOCKED') return { outcome: 'pending', forgotten };
    throw error;
  }
}
