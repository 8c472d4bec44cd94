/** The three deletion policies. */
export type PolicyName = 'after-upload' | 'age-based' | 'emergency';

/** Every policy, in the order `plan()` runs them. */
export const POLICY_NAMES: readonly PolicyName[] = Object.freeze(['after-upload', 'age-based', 'emergency']);

/**
 * A local file the caller knows about, as plain data. The agent builds these from the processed-files registry
 * (`uploadedAt`, and the size and mtime recorded at upload), the upload queue and the failed list (`pending: true`).
 */
export interface Candidate {
  /** Absolute, normalized path. */
  path: string;
  /** Size in bytes as recorded by the caller (for uploaded files: at upload time). */
  size: number;
  /** Modification time, epoch ms, as recorded by the caller (for uploaded files: at upload time). */
  mtimeMs: number;
  /** When the upload finished, epoch ms, from the registry; absent for files never uploaded. */
  uploadedAt?: number;
  /**
   * True while the file still needs an upload: it waits in the upload queue or sits on the failed list. No policy but
   * the emergency one ever deletes it.
   */
  pending: boolean;
}

/** One policy's decision to delete one candidate, with the reason in words. */
export interface Selection {
  candidate: Candidate;
  policy: PolicyName;
  reason: string;
  /** True when the file's content is in S3 (it has an upload time and is not waiting for a new upload). */
  uploaded: boolean;
}

/** One day in milliseconds: `keepDays` and `maxAgeDays` count whole 24-hour days, not calendar days. */
export const DAY_MS = 86_400_000;

/** True when the candidate's content is known to be in S3: uploaded and not queued again since. */
export function isUploaded(candidate: Candidate): boolean {
  return candidate.uploadedAt !== undefined && !candidate.pending;
}

/**
 * After-upload policy (pure): selects uploaded, non-pending files whose upload finished at least `keepDays` ago.
 * The upload time comes from the caller's registry, so the countdown survives restarts (the original daemon kept it
 * in memory and counted from mtime). A negative age (clock set back) counts as zero, so `keepDays: 0` still means
 * "right after upload" and a positive `keepDays` waits.
 */
export function selectAfterUpload(
  candidates: readonly Candidate[],
  options: { keepDays: number; now: number },
): Selection[] {
  const keepMs = options.keepDays * DAY_MS;
  const selected: Selection[] = [];
  for (const candidate of candidates) {
    if (candidate.pending || candidate.uploadedAt === undefined) continue;
    const age = Math.max(0, options.now - candidate.uploadedAt);
    if (age < keepMs) continue;
    selected.push({
      candidate,
      policy: 'after-upload',
      reason: `uploaded ${formatDays(age)} ago (keep_days ${options.keepDays})`,
      uploaded: true,
    });
  }
  return selected;
}

/**
 * Age-based policy (pure): selects uploaded files (content in S3, not waiting for a new upload) modified at least
 * `maxAgeDays` ago. A file that is not in S3 (queued, on the failed list, or never uploaded) is never selected,
 * whatever the clock says: only the emergency policy may delete data that never reached S3, and it says so with a
 * `DATA LOSS` line (the original daemon deleted never-uploaded files after a long outage). A negative age (mtime in
 * the future) counts as zero.
 */
export function selectAgeBased(
  candidates: readonly Candidate[],
  options: { maxAgeDays: number; now: number },
): Selection[] {
  const maxMs = options.maxAgeDays * DAY_MS;
  const selected: Selection[] = [];
  for (const candidate of candidates) {
    if (!isUploaded(candidate)) continue;
    const age = Math.max(0, options.now - candidate.mtimeMs);
    if (age < maxMs) continue;
    selected.push({
      candidate,
      policy: 'age-based',
      reason: `modified ${formatDays(age)} ago (max_age_days ${options.maxAgeDays})`,
      uploaded: true,
    });
  }
  return selected;
}

/**
 * Emergency order (pure): uploaded files oldest first (by mtime, then path); at the critical level, after them,
 * files not yet uploaded (pending, failed or never queued) oldest first. At the warning level only uploaded files.
 */
export function orderForPressure(
  candidates: readonly Candidate[],
  level: 'warning' | 'critical',
): Selection[] {
  const byAge = (a: Candidate, b: Candidate): number =>
    a.mtimeMs - b.mtimeMs || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  const uploaded: Candidate[] = [];
  const notUploaded: Candidate[] = [];
  for (const candidate of candidates) (isUploaded(candidate) ? uploaded : notUploaded).push(candidate);
  uploaded.sort(byAge);
  const ordered: Selection[] = uploaded.map((candidate) => ({
    candidate,
    policy: 'emergency',
    reason: `disk ${level}: uploaded file, oldest first`,
    uploaded: true,
  }));
  if (level === 'critical') {
    notUploaded.sort(byAge);
    for (const candidate of notUploaded) {
      ordered.push({
        candidate,
        policy: 'emergency',
        reason: `disk critical: DATA LOSS, ${candidate.pending ? 'still waiting for upload' : 'never uploaded'}, oldest first`,
        uploaded: false,
      });
    }
  }
  return ordered;
}

/** `15.2 days` / `3.0 hours`: ages in reasons, readable in a log line. */
export function formatDays(ms: number): string {
  if (ms < DAY_MS) return `${(ms / 3_600_000).toFixed(1)} hours`;
  return `${(ms / DAY_MS).toFixed(1)} days`;
}
