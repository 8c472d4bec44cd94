import { relative, sep } from 'node:path';

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The calendar date (`YYYY-MM-DD`) of `epochMs` in `timeZone` (`'local'` = the process's zone, i.e. TZ). */
export function dateIn(epochMs: number, timeZone: string): string {
  return localParts(epochMs, timeZone).date;
}

/** The date and the minutes since midnight of `epochMs` in `timeZone`. */
export function localParts(epochMs: number, timeZone: string): { date: string; minuteOfDay: number } {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-CA', {
      ...(timeZone === 'local' ? {} : { timeZone }),
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(timeZone, formatter);
  }
  const parts: Record<string, string> = {};
  for (const part of formatter.formatToParts(epochMs)) parts[part.type] = part.value;
  return {
    date: `${parts['year']}-${parts['month']}-${parts['day']}`,
    minuteOfDay: Number(parts['hour']) * 60 + Number(parts['minute']),
  };
}

/** What an object key is made of. */
export interface ObjectKeyInput {
  vehicleId: string;
  source: string;
  /** The configured log directory (absolute). */
  directory: string;
  /** The file (absolute, inside `directory`). */
  filePath: string;
  /** The file's modification time: a file uploaded days late still lands under the day it was written. */
  mtimeMs: number;
  /** `'local'` or an IANA zone name (`upload.timezone`). */
  timeZone: string;
}

/**
 * `{vehicle_id}/{YYYY-MM-DD}/{source}/{path relative to the directory}`, `/`-separated, the date being the mtime's
 * date in `timeZone`. ROS run folders keep their structure. The key is not checked against S3's limits here:
 * the pipeline does that through `classifyObjectLimits`, so a bad name is a permanent failure, not a crash.
 */
export function buildObjectKey(input: ObjectKeyInput): string {
  const rel = relative(input.directory, input.filePath).split(sep).join('/');
  return `${input.vehicleId}/${dateIn(input.mtimeMs, input.timeZone)}/${input.source}/${rel}`;
}
