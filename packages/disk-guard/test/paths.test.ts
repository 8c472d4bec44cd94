import fc from 'fast-check';
import { posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PROTECTED_PATHS, isInside } from '../src/index.js';
import { isNormalizedAbsolute } from '../src/paths.js';

describe('isInside', () => {
  it.each([
    ['/var/log/syslog.1', '/var', true],
    ['/var', '/var', true],
    ['/variant/x.log', '/var', false],
    ['/var2', '/var', false],
    ['/home/u/.ros/log/a.log', '/home/u/.ros/log', true],
    ['/home/u/.ros/logs/a.log', '/home/u/.ros/log', false],
    ['/anything', '/', true],
  ])('%s inside %s: %s', (path, parent, expected) => {
    expect(isInside(path, parent)).toBe(expected);
  });
});

describe('isNormalizedAbsolute', () => {
  it.each([
    ['/tmp/logs/a.log', true],
    ['/', true],
    ['tmp/logs/a.log', false],
    ['/tmp/logs/../etc/passwd', false],
    ['/tmp/logs/./a.log', false],
    ['/tmp//logs/a.log', false],
    ['/tmp/logs/', false],
    ['/tmp/logs/a\0.log', false],
  ])('%j: %s', (path, expected) => {
    expect(isNormalizedAbsolute(path)).toBe(expected);
  });
});

describe('DEFAULT_PROTECTED_PATHS', () => {
  it('lists the system directories of the original daemon and not /tmp', () => {
    expect(DEFAULT_PROTECTED_PATHS).toEqual([
      '/var',
      '/etc',
      '/usr',
      '/opt',
      '/sys',
      '/proc',
      '/boot',
      '/dev',
    ]);
    expect(DEFAULT_PROTECTED_PATHS.some((p) => isInside('/tmp/x', p))).toBe(false);
  });
});

describe('isNormalizedAbsolute agrees with posix.normalize', () => {
  it('for any path made of segments, dots and slashes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('a', '.', '..', '', 'b.log', '...', '.x'), { maxLength: 6 }),
        (segments) => {
          const path = `/${segments.join('/')}`;
          const expected = path === '/' || (!path.endsWith('/') && posix.normalize(path) === path);
          expect(isNormalizedAbsolute(path)).toBe(expected);
        },
      ),
    );
  });
});
