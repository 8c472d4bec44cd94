import { describe, expect, it } from 'vitest';
import { createDiskGuard } from '../src/index.js';
import type { DiskGuardOptions } from '../src/index.js';
import { recordingLogger } from './helpers.js';

const base: DiskGuardOptions = { directories: [{ path: '/tmp/logs', source: 'ros' }] };

describe('createDiskGuard options', () => {
  it.each<[string, DiskGuardOptions, string]>([
    [
      'directories',
      { directories: undefined as never },
      'Expected `directories` to be an array, got undefined',
    ],
    [
      'a relative path',
      { directories: [{ path: 'logs', source: 'x' }] },
      'Expected `directories[0].path` to be an absolute path, got "logs"',
    ],
    [
      'a path with ..',
      { directories: [{ path: '/tmp/../etc', source: 'x' }] },
      'Expected `directories[0].path` to be a normalized absolute path, got "/tmp/../etc"',
    ],
    [
      'an empty source',
      { directories: [{ path: '/tmp', source: '' }] },
      'Expected `directories[0].source` to be a non-empty string, got ""',
    ],
    [
      'keepDays',
      { ...base, afterUpload: { keepDays: -1 } },
      'Expected `afterUpload.keepDays` to be a non-negative finite number, got -1',
    ],
    [
      'maxAgeDays',
      { ...base, ageBased: { maxAgeDays: Number.NaN } },
      'Expected `ageBased.maxAgeDays` to be a non-negative finite number, got NaN',
    ],
    [
      'a threshold above 1',
      { ...base, disk: { warningThreshold: 1.5 } },
      'Expected `disk.warningThreshold` to be a number in (0, 1], got 1.5',
    ],
    [
      'critical below warning',
      { ...base, disk: { warningThreshold: 0.9, criticalThreshold: 0.8 } },
      'Expected `disk.criticalThreshold` to be at least `disk.warningThreshold` (0.9), got 0.8',
    ],
    [
      'an emergency threshold below warning',
      { ...base, emergency: { threshold: 0.5 } },
      'Expected `emergency.threshold` to be at least `disk.warningThreshold` (0.9), got 0.5',
    ],
    [
      'reservedBytes',
      { ...base, disk: { reservedBytes: -5 } },
      'Expected `disk.reservedBytes` to be a non-negative finite number, got -5',
    ],
    [
      'a relative protected path',
      { ...base, protectedPaths: ['data'] },
      'Expected `protectedPaths[0]` to be a normalized absolute path, got "data"',
    ],
    [
      'enabled',
      { ...base, emergency: { enabled: 'yes' as never } },
      'Expected `emergency.enabled` to be a boolean, got "yes"',
    ],
  ])('throws a TypeError naming the option for %s', (_, options, message) => {
    expect(() => createDiskGuard(options)).toThrow(new TypeError(message));
  });

  it('accepts a trailing slash on a configured directory', () => {
    expect(() => createDiskGuard({ directories: [{ path: '/tmp/logs/', source: 'ros' }] })).not.toThrow();
  });

  it('warns once at creation about a deletable directory inside a protected path, and not about allow_deletion: false', () => {
    const logger = recordingLogger();
    createDiskGuard({
      directories: [
        { path: '/var/log', source: 'syslog', allowDeletion: false },
        { path: '/opt/app/logs', source: 'app' },
      ],
      logger,
    });
    expect(logger.lines).toEqual([
      {
        level: 'warn',
        message:
          'disk-guard: /opt/app/logs (source app) is inside the protected directory /opt; it can be watched, but nothing in it will ever be deleted',
      },
    ]);
  });
});
