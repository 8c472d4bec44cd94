import { mkdir, rename, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createFakeClock } from '@tvm/test-utils';
import { afterEach, describe, expect, it } from 'vitest';
import type { WatchedDirectory } from '../src/adapters/files.js';
import { createDetector, type Detector, type DetectorOptions, type ReadyFile } from '../src/detector.js';
import { decodeFileName, encodeFileName } from '../src/file-names.js';
import { silentLogger } from '../src/logger.js';
import { tempDirectory } from './helpers.js';

const HOUR = 3_600_000;
let detector: Detector | undefined;
afterEach(async () => {
  await detector?.close();
  detector = undefined;
});

async function tree(files: Record<string, string>, ageMs = HOUR): Promise<string> {
  const root = await tempDirectory('agent-detector-');
  const when = new Date(Date.now() - ageMs);
  for (const [name, body] of Object.entries(files)) {
    await mkdir(join(root, name, '..'), { recursive: true });
    await writeFile(join(root, name), body);
    await utimes(join(root, name), when, when);
  }
  return root;
}

function setup(
  directories: WatchedDirectory[],
  extra: { watch?: boolean; known?: (path: string) => boolean; onReady?: DetectorOptions['onReady'] } = {},
) {
  const clock = createFakeClock(Date.now());
  const ready: ReadyFile[] = [];
  detector = createDetector({
    directories,
    stableMs: 60_000,
    scanSince: () => clock.now() - 3 * 24 * HOUR,
    clock,
    logger: silentLogger,
    known: (file) => (extra.known?.(file.path) ? 'known' : undefined),
    onReady:
      extra.onReady ??
      (async (files) => {
        ready.push(...files);
      }),
    watch: extra.watch ?? false,
  });
  return { clock, ready, detector };
}

async function until(predicate: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('createDetector', () => {
  it('hands a big scan over in batches of at most 1,000, every file once', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 2500; i++) files[`run-${i % 5}/f${i}.log`] = 'x';
    const root = await tree(files);
    const batches: number[] = [];
    const seen = new Set<string>();
    const { detector } = setup([{ path: root, source: 'ros', pattern: '*.log', recursive: true }], {
      onReady: async (ready) => {
        batches.push(ready.length);
        for (const file of ready) seen.add(file.path);
      },
    });
    await detector.scan('test');
    expect(Math.max(...batches)).toBeLessThanOrEqual(1000);
    expect(batches.reduce((a, b) => a + b, 0)).toBe(2500);
    expect(seen.size).toBe(2500);
  });

  it("hands files over as they are stat'ed, never holding the whole scan (100,000 files would be 10 MB)", async () => {
    const names = Array.from({ length: 2500 }, (_, i) => `run-${i % 5}/f${i}.log`);
    const root = await tree(Object.fromEntries(names.map((name) => [name, 'x'])));
    const seen = new Set<string>();
    const { detector } = setup([{ path: root, source: 'ros', pattern: '*.log', recursive: true }], {
      onReady: async (ready) => {
        const first = seen.size === 0;
        for (const file of ready) seen.add(file.path);
        // Files removed once the first batch is handed over are found only if they were stat'ed before it.
        if (first) await Promise.all(names.map((name) => rm(join(root, name), { force: true })));
      },
    });
    await detector.scan('test');
    expect(seen.size).toBeGreaterThanOrEqual(1000);
    expect(seen.size).toBeLessThan(1000 + 64);
  });

  it('scans nested folders, skipping hidden files, other names, symlinks and known files', async () => {
    const root = await tree({
      'run-1/launch.log': 'a',
      'run-1/deep/rosout.log': 'b',
      '.hidden.log': 'c',
      '.cache/x.log': 'd',
      'top.log': 'e',
      'known.log': 'f',
    });
    await symlink(join(root, 'run-1'), join(root, 'latest'));
    await symlink(join(root, 'top.log'), join(root, 'link.log'));
    const { ready, detector } = setup([{ path: root, source: 'ros', pattern: '*.log', recursive: true }], {
      known: (path) => path.endsWith('known.log'),
    });
    await detector.scan('test');
    expect(ready.map((f) => f.path.slice(root.length + 1)).sort()).toEqual([
      'run-1/deep/rosout.log',
      'run-1/launch.log',
      'top.log',
    ]);
    expect(ready[0]?.directory.source).toBe('ros');
  });

  it('honours recursive: false and the fnmatch pattern on the name', async () => {
    const root = await tree({
      syslog: 'live',
      'syslog.1': 'a',
      'syslog.2.gz': 'b',
      'sub/syslog.3': 'c',
      'kern.log': 'd',
    });
    const { ready, detector } = setup([
      { path: root, source: 'syslog', pattern: 'syslog.[1-9]*', recursive: false },
    ]);
    await detector.scan('test');
    expect(ready.map((f) => f.path.slice(root.length + 1)).sort()).toEqual(['syslog.1', 'syslog.2.gz']);
  });

  it('ignores files older than the scan horizon', async () => {
    const root = await tree({ 'old.log': 'x' }, 4 * 24 * HOUR);
    const { ready, detector } = setup([{ path: root, source: 'a', pattern: '*', recursive: true }]);
    await detector.scan('test');
    expect(ready).toEqual([]);
  });

  it('waits until a fresh file has been unchanged for the stable period', async () => {
    const root = await tree({}, 0);
    await writeFile(join(root, 'fresh.log'), 'growing');
    const { clock, ready, detector } = setup([{ path: root, source: 'a', pattern: '*', recursive: true }]);
    await detector.scan('test');
    expect(ready).toEqual([]);
    expect(detector.pending).toBe(1);
    await clock.advance(30_000);
    await writeFile(join(root, 'fresh.log'), 'growing more');
    await detector.check();
    await clock.advance(59_000);
    await detector.check();
    expect(ready).toEqual([]);
    await clock.advance(2_000);
    await detector.check();
    expect(ready.map((f) => f.size)).toEqual([12]);
  });

  it('sees a file renamed into place by logrotate (syslog -> syslog.1)', async () => {
    const root = await tree({ syslog: 'yesterday' });
    const { ready, detector } = setup(
      [{ path: root, source: 'syslog', pattern: 'syslog.[1-9]*', recursive: false }],
      {
        watch: true,
      },
    );
    await detector.start({ startupScan: true });
    await new Promise((r) => setTimeout(r, 200)); // let the watcher settle
    expect(ready).toEqual([]);
    await rename(join(root, 'syslog'), join(root, 'syslog.1'));
    await until(() => ready.length === 1);
    expect(ready[0]?.path).toBe(join(root, 'syslog.1'));
  });

  it('sees files created in new nested folders', async () => {
    const root = await tree({});
    const { ready, detector } = setup([{ path: root, source: 'ros', pattern: '*', recursive: true }], {
      watch: true,
    });
    await detector.start({ startupScan: false });
    await new Promise((r) => setTimeout(r, 200));
    await mkdir(join(root, 'run-2', 'nested'), { recursive: true });
    await new Promise((r) => setTimeout(r, 100));
    // Written elsewhere and moved in, so the first event already sees the finished file.
    const staging = await tree({ 'a.log': 'x' });
    const file = join(root, 'run-2', 'nested', 'a.log');
    await rename(join(staging, 'a.log'), file);
    await until(() => ready.some((f) => f.path === file));
  });
});

describe('createDetector with names that are not valid UTF-8', () => {
  // 测试.log in GBK, café.log in Latin-1, and a GBK directory 日志; none is valid UTF-8.
  const GBK = Buffer.from([0xb2, 0xe2, 0xca, 0xd4, ...Buffer.from('.log')]);
  const LATIN1 = Buffer.from([0x63, 0x61, 0x66, 0xe9, ...Buffer.from('.log')]);
  const GBK_DIR = Buffer.from([0xc8, 0xd5, 0xd6, 0xbe]);
  const named = (root: string, ...names: Buffer[]) =>
    [root, ...names.map((n) => decodeFileName(n))].join('/');
  const write = async (path: string, body: string) => {
    await writeFile(encodeFileName(path), body);
    const when = new Date(Date.now() - HOUR);
    await utimes(encodeFileName(path), when, when);
  };

  it('finds them in the start-up scan, by paths that name exactly their bytes', async () => {
    const root = await tree({ 'plain.log': 'p' });
    await mkdir(encodeFileName(named(root, GBK_DIR)));
    await write(named(root, GBK), 'gbk');
    await write(named(root, LATIN1), 'latin-1');
    await write(named(root, GBK_DIR, LATIN1), 'nested');
    // What a string readdir would have reported for the Latin-1 name: another file, which must stay another file.
    await write(join(root, LATIN1.toString('utf8')), 'a different file');
    const { ready, detector } = setup([{ path: root, source: 'ros', pattern: '*.log', recursive: true }]);

    await detector.start({ startupScan: true }).then((started) => started.startupScan);

    const found = new Map(ready.map((f) => [f.path, f.size]));
    expect(found).toEqual(
      new Map([
        [join(root, 'plain.log'), 1],
        [named(root, GBK), 3],
        [named(root, LATIN1), 7],
        [named(root, GBK_DIR, LATIN1), 6],
        [join(root, LATIN1.toString('utf8')), 16],
      ]),
    );
  });

  it('sees them through the watcher: a file renamed into place and a new directory', async () => {
    const root = await tree({});
    const { ready, detector } = setup([{ path: root, source: 'ros', pattern: '*.log', recursive: true }], {
      watch: true,
    });
    await detector.start({ startupScan: false });
    await new Promise((r) => setTimeout(r, 200)); // let the watcher settle
    const staging = await tree({});
    await write(named(staging, GBK), 'gbk');
    await rename(encodeFileName(named(staging, GBK)), encodeFileName(named(root, GBK)));
    await until(() => ready.some((f) => f.path === named(root, GBK)));

    await mkdir(encodeFileName(named(root, GBK_DIR)));
    await new Promise((r) => setTimeout(r, 100));
    await write(named(staging, LATIN1), 'latin-1');
    await rename(encodeFileName(named(staging, LATIN1)), encodeFileName(named(root, GBK_DIR, LATIN1)));
    await until(() => ready.some((f) => f.path === named(root, GBK_DIR, LATIN1)));
    expect(ready.find((f) => f.path === named(root, GBK_DIR, LATIN1))?.size).toBe(7);
  });
});

describe('watchTree', () => {
  it('uses one watch per directory and reports writes to files inside', async () => {
    const { watchTree } = await import('../src/adapters/tree-watcher.js');
    const { DirectoryFilter } = await import('../src/adapters/files.js');
    const files: Record<string, string> = {};
    for (let i = 0; i < 200; i++) files[`run-${i % 4}/f${i}.log`] = 'x';
    const root = await tree(files);
    const seen: string[] = [];
    const watcher = await watchTree(
      new DirectoryFilter({ path: root, source: 'ros', pattern: '*', recursive: true }, root),
      {
        file: (path) => seen.push(path),
        gone: () => undefined,
        error: (message) => {
          throw new Error(message);
        },
      },
    );
    try {
      expect(watcher.directories).toBe(5); // the root and four run folders, not 200 files
      await writeFile(join(root, 'run-2', 'f2.log'), 'more');
      await until(() => seen.includes(join(root, 'run-2', 'f2.log')));
    } finally {
      watcher.close();
    }
  });
});
