import { describe, expect, it } from 'vitest';
import {
  describeLimit,
  formatRate,
  limitAt,
  parseBandwidthLimit,
  type BandwidthLimit,
} from '../src/bandwidth/timetable.js';

const KiB = 1024;
const MiB = 1024 * 1024;

function parsed(value: string | number): BandwidthLimit {
  const result = parseBandwidthLimit(value);
  if ('error' in result) throw new Error(result.error);
  return result;
}

/** Epoch ms of a wall-clock time in a zone with a fixed offset (`+08:00` for Asia/Shanghai). */
const at = (iso: string) => Date.parse(iso);

describe('parseBandwidthLimit', () => {
  it('reads one rate as a limit at all times', () => {
    expect(parsed('2MB/s')).toEqual({ rate: 2 * MiB, entries: [] });
    expect(parsed(0)).toEqual({ rate: 0, entries: [] });
    expect(parsed('off')).toEqual({ rate: 0, entries: [] });
    expect(parsed('512KiB/s')).toEqual({ rate: 512 * KiB, entries: [] });
  });

  it('reads an rclone-style timetable, spaces or semicolons between entries', () => {
    expect(parsed('08:00,512KiB/s 18:00,4MiB/s 23:00,off')).toEqual({
      rate: 0,
      entries: [
        { minute: 480, bytesPerSecond: 512 * KiB },
        { minute: 1080, bytesPerSecond: 4 * MiB },
        { minute: 1380, bytesPerSecond: 0 },
      ],
    });
    expect(parsed('Mon-08:00,1MB/s;Sat-0:30,off').entries).toEqual([
      { day: 1, minute: 480, bytesPerSecond: MiB },
      { day: 6, minute: 30, bytesPerSecond: 0 },
    ]);
  });

  it('names the bad entry', () => {
    expect(parseBandwidthLimit('08:00,512KiB/s 25:00,1MB/s')).toEqual({
      error: 'entry "25:00,1MB/s" has a time outside 00:00 to 23:59',
    });
    expect(parseBandwidthLimit('08:00,fast 18:00,off')).toEqual({
      error: 'entry "08:00,fast" has a rate other than one such as "2MB/s", or 0 or off',
    });
    expect(parseBandwidthLimit('Xyz-08:00,1MB/s')).toEqual({
      error: 'entry "Xyz-08:00,1MB/s" has a day other than Sun, Mon, Tue, Wed, Thu, Fri, Sat',
    });
    expect(parseBandwidthLimit('08:00,1MB/s 8:00,2MB/s')).toEqual({
      error: 'entry "8:00,2MB/s" starts at the same time as an earlier entry',
    });
    expect(parseBandwidthLimit('08:00,1MB/s 18:00')).toEqual({
      error: 'entry "18:00" is not HH:MM,<rate|off> nor Day-HH:MM,<rate|off>',
    });
    expect(parseBandwidthLimit('fast')).toHaveProperty('error');
  });

  it("writes a limit back in the config's own form", () => {
    expect(describeLimit(parsed('08:00,512KiB/s 18:00,4MiB/s 23:00,off'))).toBe(
      '08:00,512 KiB/s 18:00,4 MiB/s 23:00,off',
    );
    expect(describeLimit(parsed('Mon-07:05,1536KiB/s'))).toBe('Mon-07:05,1.5 MiB/s');
    expect(formatRate(3_125_000)).toBe('2.98 MiB/s');
    expect(formatRate(100)).toBe('100 B/s');
  });
});

describe('limitAt', () => {
  const daily = parsed('08:00,512KiB/s 18:00,4MiB/s 23:00,off');
  const zone = 'Asia/Shanghai'; // UTC+8, no DST

  it('gives a single rate with no boundary', () => {
    expect(limitAt(parsed('2MB/s'), at('2026-03-01T12:00:00Z'), zone)).toEqual({ bytesPerSecond: 2 * MiB });
  });

  it('applies each entry from its time until the next one, in the configured zone', () => {
    expect(limitAt(daily, at('2026-03-02T09:30:00+08:00'), zone)).toEqual({
      bytesPerSecond: 512 * KiB,
      entry: 0,
      nextBoundaryAt: at('2026-03-02T18:00:00+08:00'),
    });
    expect(limitAt(daily, at('2026-03-02T08:00:00+08:00'), zone).entry).toBe(0); // at its time exactly
    expect(limitAt(daily, at('2026-03-02T07:59:59.999+08:00'), zone).entry).toBe(2);
    expect(limitAt(daily, at('2026-03-02T18:00:30+08:00'), zone)).toEqual({
      bytesPerSecond: 4 * MiB,
      entry: 1,
      nextBoundaryAt: at('2026-03-02T23:00:00+08:00'),
    });
  });

  it('holds the last entry of the day across midnight until the first one', () => {
    expect(limitAt(daily, at('2026-03-02T23:59:59+08:00'), zone)).toEqual({
      bytesPerSecond: 0,
      entry: 2,
      nextBoundaryAt: at('2026-03-03T08:00:00+08:00'),
    });
    expect(limitAt(daily, at('2026-03-03T00:00:00+08:00'), zone)).toEqual({
      bytesPerSecond: 0,
      entry: 2,
      nextBoundaryAt: at('2026-03-03T08:00:00+08:00'),
    });
  });

  it("judges the same instant by each zone's wall clock", () => {
    const instant = at('2026-03-02T02:00:00Z'); // 10:00 in Shanghai, 02:00 UTC, 21:00 the day before in Bogota
    expect(limitAt(daily, instant, zone).entry).toBe(0);
    expect(limitAt(daily, instant, 'UTC')).toEqual({
      bytesPerSecond: 0,
      entry: 2,
      nextBoundaryAt: at('2026-03-02T08:00:00Z'),
    });
    expect(limitAt(daily, instant, 'America/Bogota')).toEqual({
      bytesPerSecond: 4 * MiB,
      entry: 1,
      nextBoundaryAt: at('2026-03-01T23:00:00-05:00'),
    });
  });

  it('runs a weekly timetable across days, and before its first entry holds the last of the week before', () => {
    const weekly = parsed('Mon-08:00,1MB/s Fri-18:00,off');
    // 2026-03-02 is a Monday.
    expect(limitAt(weekly, at('2026-03-04T12:00:00+08:00'), zone)).toEqual({
      bytesPerSecond: MiB,
      entry: 0,
      nextBoundaryAt: at('2026-03-06T18:00:00+08:00'),
    });
    expect(limitAt(weekly, at('2026-03-08T12:00:00+08:00'), zone)).toEqual({
      bytesPerSecond: 0,
      entry: 1,
      nextBoundaryAt: at('2026-03-09T08:00:00+08:00'),
    });
    expect(limitAt(weekly, at('2026-03-02T07:00:00+08:00'), zone).entry).toBe(1);
  });

  it('mixes daily and weekday entries: a daily entry holds on every day', () => {
    const mixed = parsed('08:00,1MB/s Sat-12:00,off');
    // Saturday 2026-03-07: 08:00 the daily entry, 12:00 off, until Sunday 08:00.
    expect(limitAt(mixed, at('2026-03-07T13:00:00+08:00'), zone)).toEqual({
      bytesPerSecond: 0,
      entry: 1,
      nextBoundaryAt: at('2026-03-08T08:00:00+08:00'),
    });
  });

  it('with one entry, the next boundary is the same time the next day', () => {
    expect(limitAt(parsed('06:00,2MB/s'), at('2026-03-02T06:00:00+08:00'), zone)).toEqual({
      bytesPerSecond: 2 * MiB,
      entry: 0,
      nextBoundaryAt: at('2026-03-03T06:00:00+08:00'),
    });
  });

  it('finds a boundary across a DST change by the wall clock', () => {
    // Europe/Berlin springs forward on 2026-03-29 at 02:00 -> 03:00.
    expect(limitAt(daily, at('2026-03-28T23:30:00+01:00'), 'Europe/Berlin').nextBoundaryAt).toBe(
      at('2026-03-29T08:00:00+02:00'),
    );
  });
});
