import { DiskGuardError, describeError, invalidOption } from './errors.js';
import { gate, governing, resolveDirectories, resolveProtected } from './gate.js';
import type { GateContext, GateResult, Refusal, ResolvedDirectory } from './gate.js';
import { nodeFs, nodeStatfs } from './adapters/node-fs.js';
import { scanProcForWriters } from './adapters/open-files.js';
import { defaultLogger, normalizeOptions, systemClock, utf8PathEncoding } from './options.js';
import type { DiskGuardFs, DiskGuardOptions, OpenForWritingProbe } from './options.js';
import { assessPressure, formatPercent } from './pressure.js';
import type { DiskThresholds, Pressure } from './pressure.js';
import { DAY_MS, POLICY_NAMES, orderForPressure, selectAfterUpload, selectAgeBased } from './policies.js';
import type { Candidate, PolicyName, Selection } from './policies.js';
import { isInside } from './paths.js';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';

// Recorded mtimes may come from the old daemon's registry in float seconds; a sub-second difference is the same file.
const MTIME_TOLERANCE_MS = 1000;
// The gate's lstat is synchronous in production: yield to the event loop after this many files (a few ms).
const FILES_PER_YIELD = 512;

/** One filesystem holding monitored directories, measured once however many directories it holds. */
export interface FilesystemUsage extends Pressure {
  /** st_dev of the filesystem. */
  device: number;
  /** The (real) directory path `statfs` was called on. */
  path: string;
  /** The configured directories on this filesystem. */
  directories: string[];
}

/** What `usage()` returns. */
export interface UsageReport {
  filesystems: FilesystemUsage[];
  /** Directories that could not be measured (missing, unreadable) and statfs failures. */
  problems: DiskGuardError[];
}

/** Whether files open for writing were looked for during an operation. */
export type OpenFileCheck = 'checked' | 'not-needed' | 'unavailable' | 'disabled';

/** One file a plan would delete. */
export interface PlanEntry {
  path: string;
  realPath: string;
  /** Size and mtime as seen on disk while planning; `apply()` refuses the file if they changed. */
  size: number;
  mtimeMs: number;
  device: number;
  ino: number;
  uploadedAt?: number;
  policy: PolicyName;
  reason: string;
  /** The content is in S3. */
  uploaded: boolean;
  /** Deleting it loses data that never reached S3 (emergency only; logged as an error when applied). */
  dataLoss: boolean;
  /** Emergency entries: `apply()` re-measures the filesystem first and skips the entry once it is healthy. */
  untilHealthy: boolean;
}

/** What `plan()` returns: what would be deleted and why, and what was refused and why. */
export interface Plan {
  createdAt: number;
  /** In deletion order: after-upload, age-based, then emergency (oldest uploaded first, then data loss). */
  entries: PlanEntry[];
  refused: Refusal[];
  /** Filesystem usage measured for the emergency policy (empty when it did not run). */
  filesystems: FilesystemUsage[];
  problems: DiskGuardError[];
  openFileCheck: OpenFileCheck;
}

/** Input of `plan()`. */
export interface PlanInput {
  candidates: readonly Candidate[];
  /** Which policies to run (each must also be enabled in the options). @default every policy */
  policies?: readonly PolicyName[] | undefined;
}

/** A file `apply()` deleted. */
export interface DeletedFile {
  path: string;
  size: number;
  policy: PolicyName;
  reason: string;
  uploaded: boolean;
  dataLoss: boolean;
}

/** A planned file `apply()` left alone without a safety reason (filesystem healthy again, or aborted). */
export interface SkippedFile {
  path: string;
  policy: PolicyName;
  reason: string;
}

/** What `apply()` returns. */
export interface ApplyResult {
  deleted: DeletedFile[];
  /** Sum of the sizes of the deleted files (the filesystem figures below are the measured truth). */
  freedBytes: number;
  refused: Refusal[];
  skipped: SkippedFile[];
  errors: DiskGuardError[];
  /** Filesystems re-measured after emergency deletions. */
  filesystems: FilesystemUsage[];
  openFileCheck: OpenFileCheck;
}

/** What `checkDeletable()` returns. */
export type DeletableVerdict =
  | { ok: true; realPath: string; size: number; source: string }
  | { ok: false; code: Refusal['code']; reason: string };

/** The deletion policies and their safety gate, bound to one configuration. */
export interface DiskGuard {
  /** Used fraction and free bytes of each filesystem holding a monitored directory (once per filesystem). */
  usage(): Promise<UsageReport>;
  /** Runs the safety gate on one path (for a CLI, or a caller about to delete by itself). */
  checkDeletable(path: string): Promise<DeletableVerdict>;
  /** Decides what the policies would delete. Deletes nothing; safe for a dry run. */
  plan(input: PlanInput): Promise<Plan>;
  /**
   * Deletes a plan's entries in order, each through the safety gate again and only if unchanged since planning;
   * emergency entries only while their filesystem is still unhealthy (re-measured before each one).
   */
  apply(plan: Plan, options?: { signal?: AbortSignal | undefined }): Promise<ApplyResult>;
}

/**
 * Creates a disk guard.
 * @throws TypeError when an option is invalid, naming the option and the value.
 */
export function createDiskGuard(options: DiskGuardOptions): DiskGuard {
  const config = normalizeOptions(options);
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? defaultLogger;
  const encoding = options.pathEncoding ?? utf8PathEncoding;
  const fs: DiskGuardFs = { ...nodeFs(encoding), ...options.fs };
  const statfs = options.statfs ?? nodeStatfs(encoding);
  const probe: OpenForWritingProbe | false =
    options.openForWriting ?? ((roots) => scanProcForWriters(roots, encoding));
  const thresholds: DiskThresholds = {
    warningThreshold: config.disk.warningThreshold,
    emergencyThreshold: config.emergency.threshold,
    reservedBytes: config.disk.reservedBytes,
  };
  let protectedForms: Promise<{ name: string; form: string }[]> | undefined;

  for (const directory of config.directories) {
    const covering = config.protectedPaths.find((path) => isInside(directory.path, path));
    if (covering !== undefined && directory.allowDeletion) {
      logger.warn(
        `disk-guard: ${directory.path} (source ${directory.source}) is inside the protected directory ${covering}; ` +
          'it can be watched, but nothing in it will ever be deleted',
      );
    }
  }

  interface Operation {
    ctx: GateContext;
    openFileCheck(): OpenFileCheck;
  }

  async function operation(): Promise<Operation> {
    const directories = await resolveDirectories(config.directories, fs);
    protectedForms ??= resolveProtected(config.protectedPaths, fs);
    let writers: Promise<ReadonlySet<string> | undefined> | undefined;
    let scanned: { set: ReadonlySet<string> | undefined } | undefined;
    const ctx: GateContext = {
      directories,
      protectedForms: await protectedForms,
      fs,
      realParents: new Map(),
      openForWriting: () => {
        if (scanned !== undefined) return scanned.set;
        writers ??= (async () => {
          let set: ReadonlySet<string> | undefined;
          if (probe !== false) {
            const roots = directories.flatMap((d) =>
              d.allowDeletion && d.realPath !== undefined ? [d.realPath] : [],
            );
            try {
              set = await probe(roots);
            } catch (error) {
              logger.warn(
                `disk-guard: open-file detection failed, skipping that check: ${describeError(error)}`,
              );
            }
          }
          scanned = { set };
          return set;
        })();
        return writers;
      },
    };
    return {
      ctx,
      openFileCheck: () =>
        probe === false
          ? 'disabled'
          : writers === undefined
            ? 'not-needed'
            : scanned?.set !== undefined
              ? 'checked'
              : 'unavailable',
    };
  }

  async function measure(directories: readonly ResolvedDirectory[]): Promise<UsageReport> {
    const problems: DiskGuardError[] = [];
    const byDevice = new Map<number, ResolvedDirectory[]>();
    for (const directory of directories) {
      if (directory.problem !== undefined || directory.device === undefined) {
        if (directory.problem !== undefined) problems.push(directory.problem);
        continue;
      }
      const group = byDevice.get(directory.device);
      if (group === undefined) byDevice.set(directory.device, [directory]);
      else group.push(directory);
    }
    const filesystems: FilesystemUsage[] = [];
    for (const [device, group] of byDevice) {
      const path = group[0]?.realPath as string;
      const measured = await measureOne(
        device,
        path,
        group.map((d) => d.path),
      );
      if (measured instanceof DiskGuardError) problems.push(measured);
      else filesystems.push(measured);
    }
    return { filesystems, problems };
  }

  async function measureOne(
    device: number,
    path: string,
    directories: string[],
  ): Promise<FilesystemUsage | DiskGuardError> {
    try {
      const pressure = assessPressure(await statfs(path), thresholds);
      return { device, path, directories, ...pressure };
    } catch (error) {
      return new DiskGuardError('STATFS_FAILED', path, `statfs ${path} failed: ${describeError(error)}`, {
        cause: error,
      });
    }
  }

  /** Gate plus the checks that tie a candidate's recorded facts to the file on disk. */
  function admit(
    selection: Selection,
    ctx: GateContext,
    now: number,
  ): PlanEntry | Refusal | Promise<PlanEntry | Refusal> {
    const verdict = gate(selection.candidate.path, ctx);
    if (verdict instanceof Promise) return verdict.then((v) => judge(selection, v, now));
    return judge(selection, verdict, now);
  }

  function judge(selection: Selection, verdict: GateResult, now: number): PlanEntry | Refusal {
    const { candidate, policy } = selection;
    if (!verdict.ok) return { path: candidate.path, code: verdict.code, reason: verdict.reason, policy };
    const { stats } = verdict;
    if (
      selection.uploaded &&
      (stats.size !== candidate.size || Math.abs(stats.mtimeMs - candidate.mtimeMs) >= MTIME_TOLERANCE_MS)
    ) {
      return {
        path: candidate.path,
        code: 'changed',
        reason:
          `${candidate.path} changed since it was uploaded (size ${candidate.size} -> ${stats.size}, ` +
          `mtime ${new Date(candidate.mtimeMs).toISOString()} -> ${new Date(stats.mtimeMs).toISOString()}); ` +
          'the local copy may hold data that is not in S3',
        policy,
      };
    }
    if (policy === 'age-based' && Math.max(0, now - stats.mtimeMs) < config.ageBased.maxAgeDays * DAY_MS) {
      return {
        path: candidate.path,
        code: 'changed',
        reason: `${candidate.path} was modified at ${new Date(stats.mtimeMs).toISOString()}, younger than max_age_days ${config.ageBased.maxAgeDays}`,
        policy,
      };
    }
    const entry: PlanEntry = {
      path: candidate.path,
      realPath: verdict.realPath,
      size: stats.size,
      mtimeMs: stats.mtimeMs,
      device: stats.dev,
      ino: stats.ino,
      policy,
      reason: selection.reason,
      uploaded: selection.uploaded,
      dataLoss: policy === 'emergency' && !selection.uploaded,
      untilHealthy: policy === 'emergency',
    };
    if (candidate.uploadedAt !== undefined) entry.uploadedAt = candidate.uploadedAt;
    return entry;
  }

  return {
    async usage() {
      return measure(await resolveDirectories(config.directories, fs));
    },

    async checkDeletable(path) {
      const { ctx } = await operation();
      const verdict = await gate(path, ctx);
      if (!verdict.ok) return { ok: false, code: verdict.code, reason: verdict.reason };
      return {
        ok: true,
        realPath: verdict.realPath,
        size: verdict.stats.size,
        source: verdict.directory.source,
      };
    },

    async plan(input) {
      if (typeof input !== 'object' || input === null || !Array.isArray(input.candidates)) {
        invalidOption('input.candidates', 'an array', (input as Partial<PlanInput> | null)?.candidates);
      }
      const requested = new Set<PolicyName>(input.policies ?? POLICY_NAMES);
      for (const name of requested) {
        if (!POLICY_NAMES.includes(name))
          invalidOption('input.policies', `a list of ${POLICY_NAMES.join(', ')}`, name);
      }
      const now = clock.now();
      const { ctx, openFileCheck } = await operation();
      const refused: Refusal[] = [];
      const candidates = sanitize(input.candidates, refused);

      const selections: Selection[] = [];
      const chosen = new Set<string>();
      const take = (list: Selection[]): void => {
        for (const selection of list) {
          if (chosen.has(selection.candidate.path)) continue;
          chosen.add(selection.candidate.path);
          selections.push(selection);
        }
      };
      if (requested.has('after-upload') && config.afterUpload.enabled) {
        take(selectAfterUpload(candidates, { keepDays: config.afterUpload.keepDays, now }));
      }
      if (requested.has('age-based') && config.ageBased.enabled) {
        take(selectAgeBased(candidates, { maxAgeDays: config.ageBased.maxAgeDays, now }));
      }

      const entries: PlanEntry[] = [];
      let examined = 0;
      for (const selection of selections) {
        if (++examined % FILES_PER_YIELD === 0) await yieldToEventLoop();
        const admitted = admit(selection, ctx, now);
        const result = admitted instanceof Promise ? await admitted : admitted;
        if ('code' in result) refused.push(result);
        else entries.push(result);
      }

      let filesystems: FilesystemUsage[] = [];
      let problems: DiskGuardError[] = ctx.directories.flatMap((d) => (d.problem ? [d.problem] : []));
      if (requested.has('emergency') && config.emergency.enabled) {
        ({ filesystems, problems } = await measure(ctx.directories));
        for (const filesystem of filesystems) {
          if (filesystem.healthy || filesystem.level === 'ok') continue;
          let planned = 0;
          for (const entry of entries) if (entry.device === filesystem.device) planned += entry.size;
          if (planned >= filesystem.bytesToFree) continue;
          const onThisFs = candidates.filter(
            (c) =>
              !chosen.has(c.path) &&
              governing(c.path, ctx.directories, 'both')?.directory.device === filesystem.device,
          );
          for (const selection of orderForPressure(onThisFs, filesystem.level)) {
            if (planned >= filesystem.bytesToFree) break;
            if (++examined % FILES_PER_YIELD === 0) await yieldToEventLoop();
            const admitted = admit(selection, ctx, now);
            const result = admitted instanceof Promise ? await admitted : admitted;
            if ('code' in result) {
              refused.push(result);
              continue;
            }
            // A file on another filesystem mounted inside the directory frees nothing here.
            if (result.device !== filesystem.device) continue;
            result.reason = `${result.reason} (${formatPercent(filesystem.usedFraction)} used on ${filesystem.path}, ${filesystem.bytesToFree} bytes to free)`;
            chosen.add(result.path);
            entries.push(result);
            planned += result.size;
          }
        }
      }
      return { createdAt: now, entries, refused, filesystems, problems, openFileCheck: openFileCheck() };
    },

    async apply(plan, applyOptions = {}) {
      if (
        typeof plan !== 'object' ||
        plan === null ||
        !Array.isArray(plan.entries) ||
        !Array.isArray(plan.filesystems)
      ) {
        invalidOption('plan', 'a plan returned by plan()', plan);
      }
      const { signal } = applyOptions;
      const { ctx, openFileCheck } = await operation();
      const result: ApplyResult = {
        deleted: [],
        freedBytes: 0,
        refused: [],
        skipped: [],
        errors: [],
        filesystems: [],
        openFileCheck: 'not-needed',
      };
      const planned = new Map(plan.filesystems.map((f) => [f.device, f]));
      const touched = new Map<number, FilesystemUsage>();

      let examined = 0;
      for (const entry of plan.entries) {
        const { path, policy } = entry;
        if (++examined % FILES_PER_YIELD === 0) await yieldToEventLoop();
        if (signal?.aborted) {
          result.skipped.push({ path, policy, reason: 'aborted' });
          continue;
        }
        let current: FilesystemUsage | undefined;
        if (entry.untilHealthy) {
          const filesystem = planned.get(entry.device);
          if (filesystem === undefined) {
            result.skipped.push({ path, policy, reason: 'its filesystem was not measured by the plan' });
            continue;
          }
          // Re-measure rather than trust freed byte counts: open files, hard links and other writers all differ.
          const measured = await measureOne(filesystem.device, filesystem.path, filesystem.directories);
          if (measured instanceof DiskGuardError) {
            result.errors.push(measured);
            result.skipped.push({ path, policy, reason: 'the filesystem could not be re-measured' });
            continue;
          }
          touched.set(measured.device, measured);
          if (measured.healthy) {
            result.skipped.push({
              path,
              policy,
              reason: `${filesystem.path} is healthy again (${formatPercent(measured.usedFraction)} used, ${measured.freeBytes} bytes free)`,
            });
            continue;
          }
          current = measured;
        }
        const gated = gate(path, ctx);
        const verdict = gated instanceof Promise ? await gated : gated;
        if (!verdict.ok) {
          result.refused.push({ path, code: verdict.code, reason: verdict.reason, policy });
          continue;
        }
        const { stats } = verdict;
        if (
          stats.dev !== entry.device ||
          stats.ino !== entry.ino ||
          stats.size !== entry.size ||
          stats.mtimeMs !== entry.mtimeMs
        ) {
          result.refused.push({
            path,
            code: 'changed',
            reason: `${path} changed since the plan (size ${entry.size} -> ${stats.size})`,
            policy,
          });
          continue;
        }
        try {
          await fs.unlink(path);
        } catch (error) {
          result.errors.push(
            new DiskGuardError('UNLINK_FAILED', path, `Deleting ${path} failed: ${describeError(error)}`, {
              cause: error,
            }),
          );
          continue;
        }
        result.deleted.push({
          path,
          size: entry.size,
          policy,
          reason: entry.reason,
          uploaded: entry.uploaded,
          dataLoss: entry.dataLoss,
        });
        result.freedBytes += entry.size;
        if (entry.dataLoss) {
          logger.error(
            `DATA LOSS: deleted ${path} (${entry.size} bytes), never uploaded, to free disk space` +
              (current ? ` (${formatPercent(current.usedFraction)} used on ${current.path})` : ''),
          );
        } else {
          logger.info(`Deleted ${path} (${entry.size} bytes): ${policy}, ${entry.reason}`);
        }
      }

      for (const filesystem of touched.values()) {
        const measured = await measureOne(filesystem.device, filesystem.path, filesystem.directories);
        if (measured instanceof DiskGuardError) result.errors.push(measured);
        else result.filesystems.push(measured);
      }
      result.openFileCheck = openFileCheck();
      return result;
    },
  };
}

/** Drops malformed candidates (reported as refusals) and merges duplicates: pending wins, so a doubt keeps the file. */
function sanitize(input: readonly Candidate[], refused: Refusal[]): Candidate[] {
  const byPath = new Map<string, Candidate>();
  for (const candidate of input) {
    const problem = candidateProblem(candidate);
    if (problem !== undefined) {
      const path = typeof candidate?.path === 'string' ? candidate.path : String(candidate?.path);
      refused.push({ path, code: 'invalid-candidate', reason: problem });
      continue;
    }
    const previous = byPath.get(candidate.path);
    if (previous === undefined) byPath.set(candidate.path, candidate);
    else if (candidate.pending && !previous.pending) byPath.set(candidate.path, candidate);
  }
  return [...byPath.values()];
}

function candidateProblem(candidate: Candidate): string | undefined {
  if (typeof candidate !== 'object' || candidate === null) return 'a candidate must be an object';
  if (typeof candidate.path !== 'string') return 'a candidate needs a string `path`';
  if (typeof candidate.pending !== 'boolean') return `${candidate.path}: \`pending\` must be a boolean`;
  if (typeof candidate.size !== 'number' || !(candidate.size >= 0))
    return `${candidate.path}: invalid \`size\``;
  if (typeof candidate.mtimeMs !== 'number' || !Number.isFinite(candidate.mtimeMs)) {
    return `${candidate.path}: invalid \`mtimeMs\``;
  }
  if (candidate.uploadedAt !== undefined && !Number.isFinite(candidate.uploadedAt)) {
    return `${candidate.path}: invalid \`uploadedAt\``;
  }
  return undefined;
}
