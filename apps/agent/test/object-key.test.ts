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
} from '../src/object-key.js';

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
