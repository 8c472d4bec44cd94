import { basename } from 'node:path';
import { compileGlob, type Candidate, type Plan, type PlanEntry } from '@tvm/disk-guard';
import type { RegistryEntry } from '@tvm/durable-queue';
import fg from 'fast-glob';
import type { AgentConfig } from '../config.js';
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
same safety checks as the agent. --dry-run lists what would be deleted and why, and deletes nothing.
`;

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
  const guard = diskGuardFor(config);
  const plan = await guard.plan({ candidates: await findCandidates(config, state) });

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
  if (json) {
    printJson(io, {
      dryRun: false,
      deleted,
      freedBytes,
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
 * Every file in the log directories, as a deletion candidate: its upload record from the registry (the one
 * matching its current size and mtime, else the latest, which the safety gate then refuses as changed), and
 * `pending` when it waits in the queue or on the failed list (a failed file still needs an operator).
 */
export async function findCandidates(config: AgentConfig, state: OpsState): Promise<Candidate[]> {
  const { snapshot } = state;
  const pending = new Set([...snapshot.queue, ...snapshot.failed].map((e) => e.filepath));
  const uploads = new Map<string, RegistryEntry[]>();
  for (const entry of snapshot.registry) {
    const list = uploads.get(entry.filepath) ?? [];
    list.push(entry);
    uploads.set(entry.filepath, list);
  }
  const candidates = new Map<string, Candidate>();
  for (const dir of config.log_directories) {
    if (!dir.allow_deletion) continue;
    const matches = compileGlob(dir.pattern);
    let found: fg.Entry[];
    try {
      found = await fg(dir.recursive ? '**/*' : '*', {
        cwd: dir.path,
        absolute: true,
        onlyFiles: true,
        dot: false,
        followSymbolicLinks: false,
        stats: true,
        suppressErrors: true,
      });
    } catch {
      continue;
    }
    for (const file of found) {
      if (!file.stats || !matches(basename(file.path))) continue;
      const records = uploads.get(file.path) ?? [];
      const record =
        records.find(
          (r) => r.size === file.stats!.size && Math.abs(r.mtimeMs - file.stats!.mtimeMs) < 1000,
        ) ??
        records.reduce<RegistryEntry | undefined>(
          (a, r) => (!a || r.uploadedAt > a.uploadedAt ? r : a),
          undefined,
        );
      candidates.set(file.path, {
        path: file.path,
        size: record?.size ?? file.stats.size,
        mtimeMs: record?.mtimeMs ?? file.stats.mtimeMs,
        ...(record ? { uploadedAt: record.uploadedAt } : {}),
        pending: pending.has(file.path),
      });
    }
  }
  return [...candidates.values()];
}
