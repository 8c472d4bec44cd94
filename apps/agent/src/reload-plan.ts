import type { AgentConfig } from './config.js';

/**
 * Config keys a running agent applies without a restart, and how: the schedule and hours are judged afresh at the
 * next tick, the retry policy and order apply to the next attempt, a new bandwidth limit (or timetable) at once, to
 * uploads in flight too, a time zone to the next upload, deletion and disk settings to the next
 * housekeeping pass. Every other key (directories, bucket, credentials, state files, metrics) restarts the agent
 * in-process.
 */
export const LIVE_KEYS = [
  'upload.schedule',
  'upload.operational_hours',
  'upload.batch_upload',
  'upload.upload_on_start',
  'upload.scan_existing_files',
  'upload.order',
  'upload.retry',
  'upload.bandwidth_limit',
  'upload.timezone',
  'deletion',
  'disk',
] as const;

/** What a reload changes: the changed key paths, split into those applied live and those needing a restart. */
export interface ReloadPlan {
  live: string[];
  restart: string[];
}

// Keys whose parsed value is an object but one setting (a bandwidth timetable changes as a whole).
const WHOLE_KEYS = new Set(['upload.bandwidth_limit']);

function leaves(value: unknown, prefix: string, out: Map<string, string>): Map<string, string> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && !WHOLE_KEYS.has(prefix)) {
    for (const [key, child] of Object.entries(value)) leaves(child, prefix ? `${prefix}.${key}` : key, out);
  } else {
    out.set(prefix, JSON.stringify(value));
  }
  return out;
}

/** Compares two parsed configs key by key (a list, such as `log_directories`, is one value). */
export function reloadPlan(current: AgentConfig, next: AgentConfig): ReloadPlan {
  const before = leaves(current, '', new Map());
  const after = leaves(next, '', new Map());
  const changed = new Set<string>();
  for (const [key, value] of after) if (before.get(key) !== value) changed.add(key);
  for (const key of before.keys()) if (!after.has(key)) changed.add(key);
  const plan: ReloadPlan = { live: [], restart: [] };
  for (const key of [...changed].sort()) {
    const live = LIVE_KEYS.some((prefix) => key === prefix || key.startsWith(`${prefix}.`));
    plan[live ? 'live' : 'restart'].push(key);
  }
  return plan;
}
