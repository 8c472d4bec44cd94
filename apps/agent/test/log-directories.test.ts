import { mkdir, mkdtemp, realpath, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LogDirectories, placeFile, withinDirectory, type LogHome } from '../src/log-directories.js';

const homes: LogHome[] = [
  { source: 'terminal', configured: '/home/a/.parcel/log/terminal', root: '/data/terminal' },
  { source: 'ros', configured: '/home/a/.ros/log', root: '/home/a/.ros/log' },
  { source: 'ros_latest', configured: '/home/a/.ros/log/latest', root: '/home/a/.ros/log/latest' },
];

describe('placeFile (defect 6)', () => {
  it('places a file by its resolved root, and a configured-form path by the resolved one', () => {
    expect(placeFile('/data/terminal/x.log', undefined, homes)).toEqual({
      ok: true,
      source: 'terminal',
      root: '/data/terminal',
      path: '/data/terminal/x.log',
    });
    expect(placeFile('/home/a/.parcel/log/terminal/sub/x.log', 'terminal', homes)).toMatchObject({
      ok: true,
      path: '/data/terminal/sub/x.log',
    });
  });

  it.each([
    ['/data/terminal/../../../etc/hostname', /not a normalised path \(it would be \/etc\/hostname\)/],
    ['/data/terminal/./x.log', /not a normalised path/],
    ['/data/terminal//x.log', /not a normalised path/],
    ['data/terminal/x.log', /not an absolute path/],
    ['/etc/hostname', /not under any configured log directory/],
    ['/data/terminal2/x.log', /not under any configured log directory/],
    ['/data/terminal', /not under any configured log directory/],
  ])('refuses %s', (path, reason) => {
    const placement = placeFile(path, 'terminal', homes);
    expect(placement.ok).toBe(false);
    expect(!placement.ok && placement.reason).toMatch(reason);
  });

  it('prefers the entry source, else the deepest directory', () => {
    expect(placeFile('/home/a/.ros/log/latest/x.log', undefined, homes)).toMatchObject({
      source: 'ros_latest',
    });
    expect(placeFile('/home/a/.ros/log/latest/x.log', 'ros', homes)).toMatchObject({ source: 'ros' });
  });

  it('compares whole components', () => {
    expect(withinDirectory('/a/bc/x', '/a/b')).toBe(false);
    expect(withinDirectory('/a/b/x', '/a/b')).toBe(true);
    expect(withinDirectory('/a/b', '/a/b')).toBe(false);
  });

  it('resolves a symlinked directory, and one that appears later', async () => {
    const root = await realpath(await mkdtemp(join(tmpdir(), 'logdirs-')));
    await mkdir(join(root, 'real'));
    await symlink(join(root, 'real'), join(root, 'link'));
    const dirs = new LogDirectories([
      { path: join(root, 'link'), source: 'terminal' },
      { path: join(root, 'later'), source: 'ros' },
    ]);
    expect(dirs.homes[0]?.root).toBe(join(root, 'real'));
    await mkdir(join(root, 'real2'));
    await symlink(join(root, 'real2'), join(root, 'later'));
    expect(dirs.locate(join(root, 'real2', 'x.log'), undefined)).toMatchObject({ ok: true, source: 'ros' });
  });
});
