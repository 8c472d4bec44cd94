import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { QueueError, identityOf, sameVersion, writeFileAtomic } from '../src/index.js';
import { fixture, tempDir } from './helpers.js';

describe('sameVersion', () => {
  const v = { dev: 2049, ino: 77, size: 100, mtimeMs: 1_760_000_000_123.456 };

  it.each([
    ['the same identity', v, true],
    ['a different size', { ...v, size: 101 }, false],
    ['an mtime 0.001 ms off', { ...v, mtimeMs: v.mtimeMs + 0.001 }, false],
    ['another inode (a copy with cp -p)', { ...v, ino: 78 }, false],
    ['another device', { ...v, dev: 2050 }, false],
    ['a record without dev/ino, same size and mtime', { size: 100, mtimeMs: v.mtimeMs }, true],
    ['a record without an mtime', { size: 100 }, false],
    ['a legacy record 0.0004 ms off', { size: 100, mtimeMs: v.mtimeMs - 0.0004, legacyMtime: true }, true],
    ['a legacy record 1 ms off', { size: 100, mtimeMs: v.mtimeMs - 1, legacyMtime: true }, false],
  ])('compares %s: %s', (_label, other, expected) => {
    expect(sameVersion(v, other)).toBe(expected);
    expect(sameVersion(other, v)).toBe(expected);
  });

  it('finds an old daemon registry record whose float-second mtime converts a hair off', async () => {
    const f = await fixture();
    const mtime = 1760455800.123457;
    await writeFile(
      join(f.dir, 'processed_files.json'),
      JSON.stringify({ files: { [`/l/a.log::5::${mtime}`]: { processed_at: 1760456000, size: 5, mtime } } }),
    );
    const store = await f.open();
    const converted = store.registry.list()[0];
    expect(converted?.legacyMtime).toBe(true);
    expect(store.registry.has({ filepath: '/l/a.log', size: 5, mtimeMs: 1760455800123.457 })).toBe(true);
    expect(store.registry.has({ filepath: '/l/a.log', size: 5, mtimeMs: 1760455800124.5 })).toBe(false);
  });
});

describe('writeFileAtomic', () => {
  it('replaces the file, keeps a backup when asked, and returns the identity a later stat confirms', async () => {
    const dir = await tempDir();
    const file = join(dir, 'schedule.json');
    await writeFileAtomic(file, 'one\n');
    const identity = await writeFileAtomic(file, 'two\n', { backup: true });
    expect(await readFile(file, 'utf8')).toBe('two\n');
    expect(await readFile(`${file}.bak`, 'utf8')).toBe('one\n');
    expect(sameVersion(identity, identityOf(await stat(file)))).toBe(true);
    expect((await readdir(dir)).sort()).toEqual(['schedule.json', 'schedule.json.bak']);
  });

  it('rejects with WRITE_FAILED naming the path and removes its temp file', async () => {
    const dir = await tempDir();
    const file = join(dir, 'status.json');
    await mkdir(file);
    const error: unknown = await writeFileAtomic(file, 'x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueueError);
    expect(error).toMatchObject({ code: 'WRITE_FAILED', cause: { code: 'EISDIR' } });
    expect((error as Error).message).toContain(file);
    expect(await readdir(dir)).toEqual(['status.json']);
  });

  it('gives overlapping writes of one file their own temp files', async () => {
    const dir = await tempDir();
    const file = join(dir, 'agent-status.json');
    const texts = Array.from({ length: 20 }, (_, i) => `${'x'.repeat(10_000)}${i}\n`);
    await Promise.all(texts.map((t) => writeFileAtomic(file, t)));
    expect(texts).toContain(await readFile(file, 'utf8'));
    expect(await readdir(dir)).toEqual(['agent-status.json']);
  });
});
