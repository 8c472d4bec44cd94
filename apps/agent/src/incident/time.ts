import { wallClockIn, type WallClock } from '../object-key.js';

/** A time option (`--since`, `--until`) that cannot be read: the message names the option and the forms accepted. */
export class IncidentTimeError extends Error {
  override readonly name = 'IncidentTimeError';
}

const UNIT_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

const OFFSET = /^-(\d+)([smhd])$/;
const CLOCK = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/;
const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3})\d*)?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/** The forms a time option accepts, for error messages and usage. */
export function timeForms(timeZone: string): string {
  return `HH:MM (today, in ${timeZone}), ISO 8601 (2026-12-01T10:00, 2026-12-01T10:00:00+08:00) or an offset from now (-30m, -2h, -1d)`;
}

/**
 * Reads the time of an incident window option (pure: `now` and the zone are given). Accepted:
 * - `HH:MM` or `HH:MM:SS`: that time today, in `timeZone` (`upload.timezone`; `local` = the system's zone);
 * - ISO 8601 (`2026-12-01`, `2026-12-01T10:00`, `2026-12-01 10:00:00`, with `Z` or `+08:00`): without a zone
 *   it is a wall-clock time in `timeZone`, like `HH:MM`;
 * - `-<n>s|m|h|d`: that long before `now`.
 * Resolves to epoch ms.
 * @throws IncidentTimeError naming `option` when the text is none of these, or names no real time (25:00, 02-30).
 */
export function parseIncidentTime(text: string, option: string, now: number, timeZone: string): number {
  const value = text.trim();
  const refuse = (why: string): never => {
    throw new IncidentTimeError(`${option}: ${why}; expected ${timeForms(timeZone)}`);
  };
  if (value === '') return refuse('no time given');
  if (value === 'now') return now;
  const offset = OFFSET.exec(value);
  if (offset) return now - Number(offset[1]) * (UNIT_MS[offset[2] as string] as number);
  const clock = CLOCK.exec(value);
  if (clock) {
    const [hour, minute, second] = [Number(clock[1]), Number(clock[2]), Number(clock[3] ?? 0)];
    if (hour > 23 || minute > 59 || second > 59)
      return refuse(`${JSON.stringify(text)} is not a time of day`);
    const today = wallClockIn(now, timeZone);
    return fromWallClock({ ...today, hour, minute, second, ms: 0 }, timeZone);
  }
  const iso = ISO.exec(value);
  if (!iso) return refuse(`cannot read ${JSON.stringify(text)} as a time`);
  const wall: WallTime = {
    year: Number(iso[1]),
    month: Number(iso[2]),
    day: Number(iso[3]),
    hour: Number(iso[4] ?? 0),
    minute: Number(iso[5] ?? 0),
    second: Number(iso[6] ?? 0),
    ms: Number((iso[7] ?? '0').padEnd(3, '0')),
  };
  const check = new Date(Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second));
  if (
    wall.hour > 23 ||
    wall.minute > 59 ||
    wall.second > 59 ||
    check.getUTCMonth() !== wall.month - 1 ||
    check.getUTCDate() !== wall.day
  ) {
    return refuse(`${JSON.stringify(text)} is not a real date and time`);
  }
  const zone = iso[8];
  if (zone === undefined) return fromWallClock(wall, timeZone);
  const asUtc = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second, wall.ms);
  if (zone.toUpperCase() === 'Z') return asUtc;
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  const zoneMinutes = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || 0);
  if (zoneMinutes > 14 * 60) return refuse(`${JSON.stringify(zone)} is not a UTC offset`);
  return asUtc - sign * zoneMinutes * 60_000;
}

/** An incident window, epoch ms, both ends included. */
export interface IncidentWindow {
  since: number;
  until: number;
}

/**
 * Reads `--since` and `--until` (default `now`) into a window (pure).
 * @throws IncidentTimeError for an unreadable time, or a `--since` after `--until`.
 */
export function parseIncidentWindow(
  options: { since: string | undefined; until: string | undefined },
  now: number,
  timeZone: string,
): IncidentWindow {
  if (options.since === undefined) {
    throw new IncidentTimeError(`--since is required; it takes ${timeForms(timeZone)}`);
  }
  const since = parseIncidentTime(options.since, '--since', now, timeZone);
  const until = parseIncidentTime(options.until ?? 'now', '--until', now, timeZone);
  if (since > until) {
    throw new IncidentTimeError(
      `--since (${new Date(since).toISOString()}) is after --until (${new Date(until).toISOString()})`,
    );
  }
  return { since, until };
}

/** A wall-clock reading to the millisecond. */
type WallTime = WallClock & { ms: number };

/** The instant whose wall clock in `timeZone` reads `wall` (in a DST gap, the reading the offset before gives). */
function fromWallClock(wall: WallTime, timeZone: string): number {
  const asUtc = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second, wall.ms);
  const offsetAt = (t: number): number => {
    const w = wallClockIn(t, timeZone);
    return (
      Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) - (t - (((t % 1000) + 1000) % 1000))
    );
  };
  const first = asUtc - offsetAt(asUtc);
  return asUtc - offsetAt(first);
}
