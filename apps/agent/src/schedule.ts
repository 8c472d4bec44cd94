import { localParts } from './object-key.js';

/** Minutes since midnight of an `HH:MM` time (validated by the config schema). */
export function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':');
  return Number(h) * 60 + Number(m);
}

/**
 * Whether `minuteOfDay` lies in the window `[start, end)`. A window whose end is before its start crosses midnight
 * (`22:00`-`06:00`); equal ends mean the whole day.
 */
export function withinWindow(minuteOfDay: number, start: string, end: string): boolean {
  const from = minutesOf(start);
  const to = minutesOf(end);
  if (from === to) return true;
  return from < to ? minuteOfDay >= from && minuteOfDay < to : minuteOfDay >= from || minuteOfDay < to;
}

/** Operational hours as configured: `enabled: false` means any time. */
export interface OperationalHours {
  enabled: boolean;
  start: string;
  end: string;
}

/** Whether an immediate upload may start at `now` (epoch ms), judged in `timeZone`. */
export function insideOperationalHours(now: number, hours: OperationalHours, timeZone: string): boolean {
  if (!hours.enabled) return true;
  return withinWindow(localParts(now, timeZone).minuteOfDay, hours.start, hours.end);
}

function previousDate(date: string): string {
  const [y, m, d] = date.split('-').map(Number);
  return new Date(Date.UTC(y ?? 1970, (m ?? 1) - 1, (d ?? 1) - 1)).toISOString().slice(0, 10);
}

/**
 * The date (`YYYY-MM-DD`, in `timeZone`) of the most recent occurrence of the daily time `at` at or before `now`:
 * today once the time has passed, else yesterday.
 */
export function latestOccurrence(now: number, at: string, timeZone: string): string {
  const { date, minuteOfDay } = localParts(now, timeZone);
  return minuteOfDay >= minutesOf(at) ? date : previousDate(date);
}

/**
 * Whether a once-a-day job (the daily upload, the age-based clean-up) is due. `lastRun` is the occurrence date
 * recorded after its last run (persisted, so a reboot neither loses nor repeats it). A run missed while the
 * vehicle was off is caught up at start; one occurrence never runs twice. Without any record the job is due.
 */
export function dailyDue(
  now: number,
  at: string,
  timeZone: string,
  lastRun: string | undefined,
): { due: boolean; occurrence: string } {
  const occurrence = latestOccurrence(now, at, timeZone);
  return { due: lastRun === undefined || lastRun < occurrence, occurrence };
}

/**
 * When the interval schedule's next run is due (epoch ms): one interval after the last run it started, which
 * `schedule.json` remembers across reboots. Overdue (a vehicle rebooted more often than the interval, or off for
 * longer) means now. With no run on record the interval counts from `startedAt`, which is then recorded, so the
 * next boot counts from it too.
 */
export function nextIntervalRunAt(
  lastRunAt: number | undefined,
  startedAt: number,
  intervalMs: number,
): number {
  return (lastRunAt ?? startedAt) + intervalMs;
}
