import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classifyObjectLimits } from '@tvm/error-classification';
import { decodeFileName, encodeFileName } from '../src/file-names.js';
import {
  buildObjectKey,
  dateIn,
  decodeKeyPath,
  encodeKeyPath,
  keyPathMetadata,
  localParts,
  wallClockIn,
} from '../src/object-key.js';

/** The reference: Intl's own parts for every instant (what wallClockIn caches per quarter of an hour). */
function intlWallClock(epochMs: number, timeZone: string) {
  const parts: Record<string, number> = {};
  const formatter = new Intl.DateTimeFormat('en-CA', {
    ...(timeZone === 'local' ? {} : { timeZone }),
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  });
  for (const part of formatter.formatToParts(epochMs)) parts[part.type] = Number(part.value);
  const { year, month, day, hour, minute, second } = parts;
  return { year, month, day, hour, minute, second };
}

describe('wallClockIn', () => {
  // Zones with DST (whole hour, Lord Howe's half hour), quarter-hour offsets, a date-line jump, local mean times.
  const zones = [
    'local',
    'UTC',
    'Asia/Shanghai',
    'America/New_York',
    'Europe/London',
    'Australia/Lord_Howe',
    'Asia/Kathmandu',
    'Pacific/Chatham',
    'Pacific/Apia',
  ];

  it('agrees with Intl at every instant, across clock changes and far from today', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...zones),
        // From 1850 (local mean times with offsets in seconds) to 2100.
        fc.integer({ min: Date.UTC(1850, 0, 1), max: Date.UTC(2100, 0, 1) }),
        (zone, at) => {
          expect(wallClockIn(at, zone)).toEqual(intlWallClock(at, zone));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('is exact on both sides of a change, to the millisecond', () => {
    // New York: 2025-03-09 02:00 EST -> 03:00 EDT (07:00Z); 2025-11-02 02:00 EDT -> 01:00 EST (06:00Z).
    // Lord Howe: 2025-04-06 02:00 +11 -> 01:30 +10:30 (2025-04-05T15:00Z).
    for (const [zone, change] of [
      ['America/New_York', Date.UTC(2025, 2, 9, 7)],
      ['America/New_York', Date.UTC(2025, 10, 2, 6)],
      ['Australia/Lord_Howe', Date.UTC(2025, 3, 5, 15)],
    ] as const) {
      for (const at of [change - 60_001, change - 1000, change - 1, change, change + 999, change + 60_000]) {
        expect(wallClockIn(at, zone)).toEqual(intlWallClock(at, zone));
      }
    }
    expect(wallClockIn(Date.UTC(2025, 2, 9, 7) - 1, 'America/New_York')).toMatchObject({
      hour: 1,
      minute: 59,
    });
    expect(wallClockIn(Date.UTC(2025, 2, 9, 7), 'America/New_York')).toMatchObject({ hour: 3, minute: 0 });
  });

  it('keeps a fraction of a millisecond (an mtime) in its second', () => {
    const at = Date.UTC(2025, 9, 20, 15, 59, 59, 999) + 0.75;
    expect(wallClockIn(at, 'Asia/Shanghai')).toEqual({
      year: 2025,
      month: 10,
      day: 20,
      hour: 23,
      minute: 59,
      second: 59,
    });
  });
});

describe('buildObjectKey', () => {
  it('keeps ROS run folders under vehicle/date/source', () => {
    const key = buildObjectKey({
      vehicleId: 'vehicle-CN-001',
      source: 'ros',
      directory: '/home/u/.ros/log',
      filePath: '/home/u/.ros/log/2025-10-20-15-30-00-123456-host-6789/launch.log',
      mtimeMs: Date.parse('2025-10-20T07:30:00Z'),
      timeZone: 'Asia/Shanghai',
    });
    expect(key).toBe('vehicle-CN-001/2025-10-20/ros/2025-10-20-15-30-00-123456-host-6789/launch.log');
  });

  it('dates a file by its mtime in the configured zone, not UTC', () => {
    // 2025-10-20T17:00Z is already the 21st in Shanghai (UTC+8).
    const at = Date.parse('2025-10-20T17:00:00Z');
    expect(dateIn(at, 'Asia/Shanghai')).toBe('2025-10-21');
    expect(dateIn(at, 'UTC')).toBe('2025-10-20');
    expect(localParts(at, 'Asia/Shanghai').minuteOfDay).toBe(60);
  });

  it('always starts with vehicle/date/source and round-trips the relative path', () => {
    const segment = fc.stringMatching(/^[A-Za-z0-9_. -]{1,12}$/).filter((s) => s !== '.' && s !== '..');
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,15}$/),
        fc.stringMatching(/^[A-Za-z0-9_]{1,10}$/),
        fc.array(segment, { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 0, max: 4_102_444_800_000 }),
        fc.constantFrom('UTC', 'Asia/Shanghai', 'America/Los_Angeles', 'local'),
        (vehicleId, source, segments, mtimeMs, timeZone) => {
          const directory = '/data/logs';
          const filePath = join(directory, ...segments);
          const key = buildObjectKey({ vehicleId, source, directory, filePath, mtimeMs, timeZone });
          const prefix = `${vehicleId}/${dateIn(mtimeMs, timeZone)}/${source}/`;
          expect(key.startsWith(prefix)).toBe(true);
          expect(/^\d{4}-\d{2}-\d{2}$/.test(key.split('/')[1] ?? '')).toBe(true);
          expect(join(directory, ...key.slice(prefix.length).split('/'))).toBe(filePath);
        },
      ),
    );
  });
});

describe('encodeKeyPath', () => {
  const input = { vehicleId: 'v1', source: 'terminal', directory: '/logs', mtimeMs: 0, timeZone: 'UTC' };

  it('keeps the key of a valid UTF-8 name exactly as the old daemon wrote it, % included', () => {
    expect(buildObjectKey({ ...input, filePath: '/logs/日志/100%_done.log' })).toBe(
      'v1/1970-01-01/terminal/日志/100%_done.log',
    );
    expect(keyPathMetadata('/logs/日志/100%_done.log')).toEqual({});
  });

  it('writes each byte that is not UTF-8 as %XX and each % as %25, and says so in the metadata', () => {
    // `测试 100%.log` in GBK, then a Latin-1 directory `café`.
    const name = decodeFileName(Buffer.from([0xb2, 0xe2, 0xca, 0xd4, ...Buffer.from(' 100%.log')]));
    const dir = decodeFileName(Buffer.from([0x63, 0x61, 0x66, 0xe9]));
    const key = buildObjectKey({ ...input, filePath: `/logs/${dir}/${name}` });
    expect(key).toBe('v1/1970-01-01/terminal/caf%E9/%B2%E2%CA%D4 100%25.log');
    expect(classifyObjectLimits(key, 1)).toBeUndefined();
    expect(keyPathMetadata(`/logs/${dir}/${name}`)).toEqual({
      'tvm-name-encoding': 'percent-bytes',
      'tvm-name-bytes': Buffer.from([0xb2, 0xe2, 0xca, 0xd4, ...Buffer.from(' 100%.log')]).toString('base64'),
    });
  });

  it('round-trips any relative path: key -> the original bytes', () => {
    // A name component: any bytes but '/' and NUL, and not '.' or '..'.
    const component = fc
      .uint8Array({ minLength: 1, maxLength: 12 })
      .map((bytes) => Buffer.from(bytes.map((b) => (b === 0x2f || b === 0 ? 0x80 : b))))
      .filter((bytes) => bytes.toString('latin1') !== '.' && bytes.toString('latin1') !== '..');
    fc.assert(
      fc.property(fc.array(component, { minLength: 1, maxLength: 4 }), (components) => {
        const original = Buffer.concat(components.flatMap((c, i) => (i === 0 ? [c] : [Buffer.from('/'), c])));
        const filePath = `/logs/${components.map((c) => decodeFileName(c)).join('/')}`;
        const key = buildObjectKey({ ...input, filePath });
        const keyPath = key.slice('v1/1970-01-01/terminal/'.length);
        expect(key.isWellFormed()).toBe(true);
        expect(keyPath).toBe(encodeKeyPath(filePath.slice('/logs/'.length)));
        const encoding = keyPathMetadata(filePath)['tvm-name-encoding'];
        expect(decodeKeyPath(keyPath, encoding).equals(original)).toBe(true);
        const name = keyPathMetadata(filePath)['tvm-name-bytes'];
        if (name !== undefined) {
          expect(Buffer.from(name, 'base64').equals(components.at(-1)!)).toBe(true);
          expect(Buffer.from(encodeFileName(filePath)).subarray('/logs/'.length).equals(original)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('refuses to decode what percent-bytes never writes', () => {
    expect(() => decodeKeyPath('caf%E', 'percent-bytes')).toThrow(TypeError);
    expect(() => decodeKeyPath('x', 'base64')).toThrow(/Unknown key encoding "base64"/);
    expect(decodeKeyPath('100%.log').toString()).toBe('100%.log');
  });
});
