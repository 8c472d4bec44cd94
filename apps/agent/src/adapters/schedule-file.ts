import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '@tvm/durable-queue';

/**
 * What `schedule.json` remembers: the occurrence date (`YYYY-MM-DD`) each daily job last ran for, and when the
 * interval schedule last started a run (epoch ms), so that reboots more frequent than the interval still run it.
 */
export interface ScheduleRecord {
  daily_upload?: string;
  age_based_cleanup?: string;
  interval_run_at?: number;
}

/** Reads the schedule record; a missing or unreadable file is an empty record (the job then runs, once). */
export async function readScheduleRecord(path: string): Promise<ScheduleRecord> {
  try {
    const parsed: unknown = JSON.parse(await readFile(path, 'utf8'));
    if (typeof parsed !== 'object' || parsed === null) return {};
    const record: ScheduleRecord = {};
    for (const key of ['daily_upload', 'age_based_cleanup'] as const) {
      const value = (parsed as Record<string, unknown>)[key];
      if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value)) record[key] = value;
    }
    const at = (parsed as Record<string, unknown>)['interval_run_at'];
    if (typeof at === 'number' && Number.isFinite(at) && at >= 0) record.interval_run_at = at;
    return record;
  } catch {
    return {};
  }
}

/**
 * Writes the record durably (temp file, fsync, rename, fsync of the directory), so power loss keeps a whole one;
 * a failed write (a full disk) leaves no temp file behind. Rejects with the store's `WRITE_FAILED` QueueError.
 */
export async function writeScheduleRecord(path: string, record: ScheduleRecord): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(record, null, 2)}\n`);
}
