import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildObjectKey, dateIn, localParts } from '../src/object-key.js';

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
