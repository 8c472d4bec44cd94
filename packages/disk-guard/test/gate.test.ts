import { mkdir, open, rm, symlink, writeFile } from 'node:fs/promises';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readlinkSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDiskGuard } from '../src/index.js';
import type { DiskGuard } from '../src/index.js';
import { tempTree, writeLog } from './helpers.js';

describe('DiskGuard.checkDeletable (the safety gate) on a real tree', () => {
  let root: string;
  let cleanup: () => Promise<void>;
  let guard: DiskGuard;
  const p = (...parts: string[]) => join(root, ...parts);

  beforeAll(async () => {
    ({ root, cleanup } = await tempTree());
    const now = Date.now();
    for (const name of [
      'ros/a.log',
      'ros/run1/launch.log',
      'flat/top.log',
      'flat/sub/deep.log',
      'syslog/syslog.1',
      'syslog/syslog',
    ]) {
      await writeLog(p(name), 10, now);
    }
    await writeLog(p('variant/x.log'), 10, now);
    await writeLog(p('var/secret.conf'), 10, now);
    await writeLog(p('keep/precious.log'), 10, now);
    await writeLog(p('elsewhere/other.log'), 10, now);
    await writeLog(p('var/logs/under-protected.log'), 10, now);
    // A symlinked file and a symlinked directory pointing into a protected place, inside a log directory.
    await symlink(p('var/secret.conf'), p('ros/link-to-secret.conf'));
    await symlink(p('var'), p('ros/protected-dir'));
    await symlink('/etc', p('ros/etc'));
    // A symlinked subdirectory leading out of the log directory, to an unprotected place.
    await symlink(p('elsewhere'), p('ros/escape'));
    // A symlinked subdirectory leading into the log directory that forbids deletion.
    await symlink(p('keep'), p('ros/into-keep'));
    execFileSync('mkfifo', [p('ros/pipe.log')]);
    guard = createDiskGuard({
      directories: [
        { path: p('ros'), source: 'ros' },
        { path: p('flat'), source: 'flat', recursive: false },
        { path: p('syslog'), source: 'syslog', pattern: 'syslog.[1-9]*', recursive: false },
        { path: p('keep'), source: 'keep', allowDeletion: false },
        { path: p('variant'), source: 'variant' },
        { path: p('var/logs'), source: 'under_protected' },
        { path: p('missing'), source: 'missing' },
      ],
      protectedPaths: [p('var')],
      logger: { debug() {}, info() {}, warn() {}, error() {} },
    });
  });

  afterAll(async () => cleanup());

  it.each([
    ['ros/a.log', 'ros'],
    ['ros/run1/launch.log', 'ros'],
    ['flat/top.log', 'flat'],
    ['syslog/syslog.1', 'syslog'],
    ['variant/x.log', 'variant'],
  ])('allows %s', async (path, source) => {
    expect(await guard.checkDeletable(p(path))).toEqual({ ok: true, realPath: p(path), size: 10, source });
  });

  it.each([
    ['var/secret.conf', 'protected-path', 'is inside the protected system directory <root>/var'],
    ['var/logs/under-protected.log', 'protected-path', 'is inside the protected system directory <root>/var'],
    ['ros/link-to-secret.conf', 'symlink', 'is a symbolic link'],
    [
      'ros/protected-dir/secret.conf',
      'protected-path',
      'resolves to <root>/var/secret.conf, inside the protected system directory <root>/var',
    ],
    [
      'ros/escape/other.log',
      'symlink-escape',
      'resolves to <root>/elsewhere/other.log, outside its log directory <root>/ros',
    ],
    ['ros/into-keep/precious.log', 'symlink-escape', 'outside its log directory'],
    [
      'keep/precious.log',
      'deletion-disabled',
      'deletion is disabled (allow_deletion: false) for <root>/keep (source keep)',
    ],
    ['flat/sub/deep.log', 'not-recursive', 'is in a subdirectory of <root>/flat, which is not recursive'],
    ['syslog/syslog', 'pattern-mismatch', 'syslog does not match the pattern "syslog.[1-9]*"'],
    ['elsewhere/other.log', 'outside-directories', 'is not inside any configured log directory'],
    ['ros/nope.log', 'not-found', 'does not exist'],
    ['ros/run1', 'not-regular-file', 'is a directory'],
    ['ros/pipe.log', 'not-regular-file', 'is not a regular file'],
    ['missing/a.log', 'directory-missing', 'is unavailable'],
  ])('refuses %s (%s)', async (path, code, reason) => {
    const verdict = await guard.checkDeletable(p(path));
    expect(verdict).toMatchObject({ ok: false, code });
    expect(!verdict.ok && verdict.reason.replaceAll(root, '<root>')).toContain(reason);
  });

  it('refuses the configured directory itself', async () => {
    expect(await guard.checkDeletable(p('ros'))).toMatchObject({ ok: false, code: 'outside-directories' });
  });

  it('refuses a file reached through a symlinked subdirectory leading into /etc, naming /etc', async () => {
    expect(await guard.checkDeletable(p('ros/etc/passwd'))).toEqual({
      ok: false,
      code: 'protected-path',
      reason: `${p('ros/etc/passwd')} resolves to /etc/passwd, inside the protected system directory /etc`,
    });
  });

  it.each([
    ['/../', 'ros/../var/secret.conf'],
    ['/./', 'ros/./a.log'],
    ['//', 'ros//a.log'],
    ['a trailing slash', 'ros/a.log/'],
  ])('refuses a path with %s without resolving it', async (_, path) => {
    expect(await guard.checkDeletable(`${root}/${path}`)).toMatchObject({
      ok: false,
      code: 'not-normalized',
    });
  });

  it('refuses relative paths and non-strings', async () => {
    expect(await guard.checkDeletable('ros/a.log')).toMatchObject({ ok: false, code: 'not-normalized' });
    expect(await guard.checkDeletable(42 as never)).toMatchObject({ ok: false, code: 'not-normalized' });
  });

  it('compares protected paths on components: a sibling named like a protected one is not protected', async () => {
    // <root>/var is protected, <root>/variant is an ordinary log directory.
    expect(await guard.checkDeletable(p('variant/x.log'))).toMatchObject({ ok: true });
  });

  it('refuses the real system directories by default', async () => {
    const system = createDiskGuard({
      directories: [
        { path: '/var/log', source: 'syslog' },
        { path: '/etc', source: 'etc' },
      ],
      logger: { debug() {}, info() {}, warn() {}, error() {} },
    });
    expect(await system.checkDeletable('/var/log/syslog.1')).toMatchObject({
      ok: false,
      code: 'protected-path',
      reason: '/var/log/syslog.1 is inside the protected system directory /var',
    });
    expect(await system.checkDeletable('/etc/passwd')).toMatchObject({ ok: false, code: 'protected-path' });
  });

  it('refuses a file open for writing by a process, and allows it once closed or when only read', async () => {
    const path = p('ros/open.log');
    await writeFile(path, 'x');
    const writer = await open(path, 'a');
    try {
      expect(await guard.checkDeletable(path)).toMatchObject({
        ok: false,
        code: 'open-for-writing',
        reason: `${path} is open for writing by a process`,
      });
    } finally {
      await writer.close();
    }
    const reader = await open(path, 'r');
    try {
      expect(await guard.checkDeletable(path)).toMatchObject({ ok: true });
    } finally {
      await reader.close();
    }
  });

  it('sees a writer in another process', async () => {
    const path = p('ros/other-process.log');
    await writeFile(path, 'x');
    // The shell opens the file for appending on fd 3, then becomes `sleep`, which keeps it open.
    const child = spawn('sh', ['-c', 'exec 3>>"$0"; exec sleep 30', path], { stdio: 'ignore' });
    try {
      await waitFor(
        () => existsSync(`/proc/${child.pid}/fd/3`) && readlinkSync(`/proc/${child.pid}/fd/3`) === path,
      );
      expect(await guard.checkDeletable(path)).toMatchObject({ ok: false, code: 'open-for-writing' });
    } finally {
      child.kill();
    }
  });

  it('skips the open-file check when disabled', async () => {
    const path = p('ros/open2.log');
    await writeFile(path, 'x');
    const unchecked = createDiskGuard({
      directories: [{ path: p('ros'), source: 'ros' }],
      openForWriting: false,
    });
    const writer = await open(path, 'a');
    try {
      expect(await unchecked.checkDeletable(path)).toMatchObject({ ok: true });
    } finally {
      await writer.close();
      await rm(path);
    }
  });

  it('governs a file by the most specific configured directory', async () => {
    await mkdir(p('ros/nested-keep'), { recursive: true });
    await writeFile(p('ros/nested-keep/x.log'), 'x');
    const nested = createDiskGuard({
      directories: [
        { path: p('ros'), source: 'ros' },
        { path: p('ros/nested-keep'), source: 'nested', allowDeletion: false },
      ],
    });
    expect(await nested.checkDeletable(p('ros/nested-keep/x.log'))).toMatchObject({
      ok: false,
      code: 'deletion-disabled',
    });
    expect(await nested.checkDeletable(p('ros/a.log'))).toMatchObject({ ok: true });
    // A symlinked subdirectory that leads into the nested directory is governed by it too.
    await symlink(p('ros/nested-keep'), p('ros/link-to-nested'));
    expect(await nested.checkDeletable(p('ros/link-to-nested/x.log'))).toMatchObject({
      ok: false,
      code: 'deletion-disabled',
    });
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await delay(10);
  if (!condition()) throw new Error('condition not met within 2 s');
}
