/** The numbers `fs.statfs` returns that disk-guard needs (a subset of Node's `StatsFs`). */
export interface StatfsSample {
  /** Block size in bytes. */
  bsize: number;
  /** Total data blocks. */
  blocks: number;
  /** Free blocks, including those reserved for root. */
  bfree: number;
  /** Free blocks available to unprivileged users. */
  bavail: number;
}

/** The thresholds that decide how full is too full. */
export interface DiskThresholds {
  /** Used fraction at which already-uploaded files are freed. */
  warningThreshold: number;
  /** Used fraction at which the emergency policy runs (may free files that were never uploaded). */
  emergencyThreshold: number;
  /** Free bytes that count as healthy on their own; 0 means only the warning threshold counts. */
  reservedBytes: number;
}

/** `ok` below the warning threshold; `warning` frees uploaded files only; `critical` may lose data. */
export type PressureLevel = 'ok' | 'warning' | 'critical';

/** How full one filesystem is, and how far from healthy. */
export interface Pressure {
  totalBytes: number;
  usedBytes: number;
  /** Bytes an unprivileged process can still write (`bavail`). */
  freeBytes: number;
  /** used / (used + free), the figure `df` shows as Use%. */
  usedFraction: number;
  level: PressureLevel;
  /** True when usage is below the warning threshold or free space is at least `reservedBytes`. */
  healthy: boolean;
  /** Bytes still to free before the filesystem is healthy; 0 when it is. */
  bytesToFree: number;
}

/**
 * Measures one statfs sample against the thresholds. Pure. The used fraction is the one `df` prints
 * (`used / (used + available)`), so operators comparing with `df -h` see the same number.
 *
 * Healthy means "below the warning threshold OR at least `reservedBytes` free", whichever is reached first: a
 * reserve larger than a small disk can never be met, and deleting toward an unreachable target would end in deleting
 * files that were never uploaded.
 */
export function assessPressure(sample: StatfsSample, thresholds: DiskThresholds): Pressure {
  const usedBytes = Math.max(0, (sample.blocks - sample.bfree) * sample.bsize);
  const freeBytes = Math.max(0, sample.bavail * sample.bsize);
  const capacity = usedBytes + freeBytes;
  const usedFraction = capacity > 0 ? usedBytes / capacity : 0;
  // Freeing X bytes moves X from used to free; capacity stays. Below warning: used - X < w * capacity.
  const toWarning =
    usedFraction < thresholds.warningThreshold
      ? 0
      : Math.floor(usedBytes - thresholds.warningThreshold * capacity) + 1;
  const toReserve =
    thresholds.reservedBytes > 0 ? Math.max(0, thresholds.reservedBytes - freeBytes) : Infinity;
  const bytesToFree = Math.min(toWarning, toReserve);
  const level: PressureLevel =
    usedFraction >= thresholds.emergencyThreshold
      ? 'critical'
      : usedFraction >= thresholds.warningThreshold
        ? 'warning'
        : 'ok';
  return {
    totalBytes: sample.blocks * sample.bsize,
    usedBytes,
    freeBytes,
    usedFraction,
    level,
    healthy: bytesToFree === 0,
    bytesToFree,
  };
}

/** Formats a used fraction as `df` would, with one decimal: `96.1%`. */
export function formatPercent(fraction: number): string {
  return `${(fraction * 100).toFixed(1)}%`;
}
