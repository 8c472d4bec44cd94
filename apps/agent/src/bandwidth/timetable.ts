/**
 * `upload.bandwidth_limit` as a timetable, the way rclone's `--bwlimit` takes one: pure functions, time passed in.
 *
 * A value is either one rate (`"2MB/s"`, `0`, `"off"`) that holds at all times, or space- (or `;`-) separated
 * entries `[Day-]HH:MM,<rate|off>`, e.g. `"08:00,512KiB/s 18:00,4MiB/s 23:00,off"`. Each entry sets the limit from
 * its time on, until the next entry; the timetable repeats, so before the first time of a day the last entry of the
 * previous day holds (in the example, `off` from 23:00 to 08:00). An entry without a day applies every day; `Mon-10:00`
 * (Mon, Tue, Wed, Thu, Fri, Sat, Sun) applies on that day only, and then the cycle is the week: the entry holds until
 * the next one in the week, across days. Times are wall-clock times in `upload.timezone`.
 */
import { localParts } from '../object-key.js';

/** Days as `Date.getUTCDay()` numbers them: 0 = Sunday. */
export const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;

/** One timetable entry: from `minute` (of `day`, or of every day) on, `bytesPerSecond` (0 = unlimited). */
export interface BandwidthEntry {
  /** 0 = Sunday ... 6 = Saturday; absent = every day. */
  day?: number;
  /** Minutes since local midnight. */
  minute: number;
  bytesPerSecond: number;
}

/** A parsed `upload.bandwidth_limit`: one rate (`entries` empty) or a timetable (`rate` unused, 0). */
export interface BandwidthLimit {
  /** The rate at all times when there is no timetable; bytes per second, 0 = unlimited. */
  rate: number;
  /** Timetable entries in the order given; empty for a single rate. */
  entries: readonly BandwidthEntry[];
}

/** The limit in force at an instant and why. */
export interface LimitInForce {
  bytesPerSecond: number;
  /** The timetable entry in force (its index in `entries`), absent for a single rate. */
  entry?: number;
  /** When the limit next changes by the timetable (epoch ms), absent for a single rate. */
  nextBoundaryAt?: number;
}

const RATE = /^\s*(\d+(?:\.\d+)?)\s*(B|KB|KiB|MB|MiB|GB|GiB)?\s*(?:\/\s*s)?\s*$/i;
const UNITS: Record<string, number> = {
  b: 1,
  kb: 1024,
  kib: 1024,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};
const ENTRY = /^(?:([A-Za-z]{3})-)?(\d{1,2}):(\d{2}),(.+)$/;
const MINUTES_PER_DAY = 1440;
const MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY;

/**
 * One rate in bytes per second (0 = unlimited), or undefined when `value` is not one. Units are binary, as in the
 * AWS CLI's `max_bandwidth`: `"2MB/s"` is 2 MiB/s; a bare number is bytes per second; `off` is unlimited.
 */
export function parseRate(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.floor(value) : undefined;
  if (value.trim().toLowerCase() === 'off') return 0;
  const match = RATE.exec(value);
  if (!match) return undefined;
  const unit = UNITS[(match[2] ?? 'b').toLowerCase()] ?? 1;
  return Math.floor(Number(match[1]) * unit);
}

/**
 * `upload.bandwidth_limit` parsed, or the reason it is not valid: a sentence starting `must be` (not a rate nor a
 * timetable) or `entry "..."` (naming the bad timetable entry).
 */
export function parseBandwidthLimit(value: string | number): BandwidthLimit | { error: string } {
  const rate = parseRate(value);
  if (rate !== undefined) return { rate, entries: [] };
  if (typeof value !== 'string' || !value.includes(',')) {
    return {
      error:
        'must be a rate such as "2MB/s", 0 or off for unlimited, or a timetable such as "08:00,512KiB/s 23:00,off"',
    };
  }
  const entries: BandwidthEntry[] = [];
  const seen = new Set<number>();
  for (const text of value.trim().split(/[\s;]+/)) {
    const match = ENTRY.exec(text);
    if (!match) return { error: `entry "${text}" is not HH:MM,<rate|off> nor Day-HH:MM,<rate|off>` };
    const [, dayName, hh, mm, rateText] = match as unknown as [
      string,
      string | undefined,
      string,
      string,
      string,
    ];
    let day: number | undefined;
    if (dayName !== undefined) {
      day = WEEKDAYS.findIndex((d) => d.toLowerCase() === dayName.toLowerCase());
      if (day < 0) return { error: `entry "${text}" has a day other than ${WEEKDAYS.join(', ')}` };
    }
    const hours = Number(hh);
    const minutes = Number(mm);
    if (hours > 23 || minutes > 59) return { error: `entry "${text}" has a time outside 00:00 to 23:59` };
    const bytesPerSecond = parseRate(rateText);
    if (bytesPerSecond === undefined) {
      return { error: `entry "${text}" has a rate other than one such as "2MB/s", or 0 or off` };
    }
    const minute = hours * 60 + minutes;
    for (const at of weekMinutes({ minute, bytesPerSecond, ...(day === undefined ? {} : { day }) })) {
      if (seen.has(at)) return { error: `entry "${text}" starts at the same time as an earlier entry` };
      seen.add(at);
    }
    entries.push({ minute, bytesPerSecond, ...(day === undefined ? {} : { day }) });
  }
  return { rate: 0, entries };
}

/** The minutes of the week (0 = Sunday 00:00) at which `entry` starts. */
function weekMinutes(entry: BandwidthEntry): number[] {
  const days = entry.day === undefined ? [0, 1, 2, 3, 4, 5, 6] : [entry.day];
  return days.map((d) => d * MINUTES_PER_DAY + entry.minute);
}

/** The wall clock of `epochMs` in `timeZone`: minute of the week (0 = Sunday 00:00) and the ms into that minute. */
function wallClock(epochMs: number, timeZone: string): { weekMinute: number; msIntoMinute: number } {
  const { date, minuteOfDay } = localParts(epochMs, timeZone);
  const day = new Date(`${date}T00:00:00Z`).getUTCDay();
  const msIntoMinute = ((epochMs % 60_000) + 60_000) % 60_000; // every zone's offset is whole minutes
  return { weekMinute: day * MINUTES_PER_DAY + minuteOfDay, msIntoMinute };
}

/**
 * The limit in force at `now` (epoch ms) in `timeZone` (`'local'` or an IANA name), the timetable entry that set it,
 * and when the timetable next changes it. A wall-clock time a DST change skips or repeats is met once, at the first
 * instant the clock shows it or later.
 */
export function limitAt(limit: BandwidthLimit, now: number, timeZone: string): LimitInForce {
  if (limit.entries.length === 0) return { bytesPerSecond: limit.rate };
  const starts = limit.entries
    .flatMap((entry, index) => weekMinutes(entry).map((at) => ({ at, index })))
    .sort((a, b) => a.at - b.at);
  const { weekMinute, msIntoMinute } = wallClock(now, timeZone);
  // The latest start at or before now in the week; before the first, the last of the previous week.
  let current = starts[starts.length - 1] as { at: number; index: number };
  let next = starts[0] as { at: number; index: number };
  for (const [i, start] of starts.entries()) {
    if (start.at > weekMinute) {
      next = start;
      break;
    }
    current = start;
    next = starts[(i + 1) % starts.length] as { at: number; index: number };
  }
  let ahead = (next.at - weekMinute + MINUTES_PER_WEEK) % MINUTES_PER_WEEK;
  if (ahead === 0) ahead = MINUTES_PER_WEEK; // one start in the whole week: the next is a week on
  const entry = limit.entries[current.index] as BandwidthEntry;
  return {
    bytesPerSecond: entry.bytesPerSecond,
    entry: current.index,
    nextBoundaryAt: boundaryAt(now - msIntoMinute, next.at, ahead, timeZone),
  };
}

/**
 * The instant the wall clock of `timeZone` shows week minute `target`, `ahead` wall minutes after `minuteStart` (the
 * start of the current wall minute). Starts from the estimate that no offset change lies between, then corrects it by
 * the wall clock actually shown there (a DST change in between moves it by the change). A time a DST change skips
 * keeps the estimate, which lies just after the gap.
 */
function boundaryAt(minuteStart: number, target: number, ahead: number, timeZone: string): number {
  const estimate = minuteStart + ahead * 60_000;
  let at = estimate;
  for (let i = 0; i < 3; i++) {
    const shown = wallClock(at, timeZone).weekMinute;
    const half = MINUTES_PER_WEEK / 2;
    const drift =
      ((((shown - target) % MINUTES_PER_WEEK) + MINUTES_PER_WEEK + half) % MINUTES_PER_WEEK) - half;
    if (drift === 0) return at > minuteStart ? at : estimate;
    at -= drift * 60_000;
  }
  return estimate;
}

/** `08:00,512 KiB/s 23:00,off`: the timetable as the config would write it (rates in binary units). */
export function describeLimit(limit: BandwidthLimit): string {
  if (limit.entries.length === 0) return formatRate(limit.rate);
  return limit.entries.map(describeEntry).join(' ');
}

/** One entry: `Mon-08:00,512 KiB/s`. */
export function describeEntry(entry: BandwidthEntry): string {
  const hh = String(Math.floor(entry.minute / 60)).padStart(2, '0');
  const mm = String(entry.minute % 60).padStart(2, '0');
  const day = entry.day === undefined ? '' : `${WEEKDAYS[entry.day]}-`;
  return `${day}${hh}:${mm},${formatRate(entry.bytesPerSecond)}`;
}

/** `off` for 0, else the rate in the largest binary unit that keeps it whole-ish: `512 KiB/s`, `2.5 MiB/s`. */
export function formatRate(bytesPerSecond: number): string {
  if (bytesPerSecond === 0) return 'off';
  for (const [unit, size] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (bytesPerSecond >= size) {
      const value = bytesPerSecond / size;
      return `${Number.isInteger(value) ? value : Number(value.toFixed(2))} ${unit}/s`;
    }
  }
  return `${bytesPerSecond} B/s`;
}
