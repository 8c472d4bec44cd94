import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyForgetRequests, readStateSnapshot, requestForget, requestRequeue } from '../src/index.js';
import { fixture, readJson } from './helpers.js';

describe('requestRequeue', () => {
  it('lets another process requeue failed files while the store runs, without its lock', async () => {
    const f = await fixture();
    const store = await f.open();
    await store.failed.add({ filepath: '/a', category: 'access_denied', message: 'AccessDenied' });
    await store.failed.add({ filepath: '/b', category: 'access_denied', message: 'AccessDenied' });
    const file = await requestRequeue({ directory: f.dir, clock: f.clock }, '/a');
    expect((await readStateSnapshot({ directory: f.dir })).requests).toEqual([
      { file, request: { type: 'requeue', target: '/a', requestedAt: f.clock.now() } },
    ]);
    await expect(store.pollRequests()).resolves.toEqual({ applied: 1, requeued: 1, invalid: 0 });
    expect(store.queue.has('/a')).toBe(true);
    expect(store.failed.has('/b')).toBe(true);
    expect(await readdir(join(f.dir, 'requests'))).toEqual([]);
    expect((await readJson(join(f.dir, 'queue.json'))).files[0].filepath).toBe('/a');
  });

  it('is applied when the store next opens', async () => {
    const f = await fixture();
    const first = await f.open();
    await first.failed.add({ filepath: '/a', category: 'c', message: 'm' });
    await first.close();
    await requestRequeue({ directory: f.dir }, 'all');
    const second = await f.open();
    expect(second.queue.has('/a')).toBe(true);
    expect(second.failed.size).toBe(0);
  });

  it('sets a malformed request aside and reports it', async () => {
    const f = await fixture();
    const store = await f.open();
    await mkdir(join(f.dir, 'requests'), { recursive: true });
    await writeFile(join(f.dir, 'requests', 'bad.json'), '{"type":"delete-everything"}');
    await expect(store.pollRequests()).resolves.toEqual({ applied: 0, requeued: 0, invalid: 1 });
    expect(await readdir(join(f.dir, 'requests'))).toEqual(['bad.json.invalid']);
    expect(f.logger.lines.at(-1)).toMatch(/^warn: Ignored the request .*bad\.json: expected/);
  });

  it('rejects an empty target', async () => {
    await expect(requestRequeue({ directory: '/tmp/unused' }, '')).rejects.toThrow(TypeError);
  });
});

describe('requestForget', () => {
  it('lets another process drop deleted files from the queue and the failed list, without the lock', async () => {
    const f = await fixture();
    const store = await f.open();
    await store.queue.add({ filepath: '/q', size: 10, mtimeMs: 1000 });
    await store.failed.add({ filepath: '/f', size: 20, mtimeMs: 2000, category: 'c', message: 'm' });
    await store.queue.add({ filepath: '/keep', size: 30, mtimeMs: 3000 });
    const reason = 'emergency cleanup by tvm-upload cleanup';
    await requestForget(
      { directory: f.dir, clock: f.clock },
      [
        { filepath: '/q', size: 10, mtimeMs: 1000 },
        { filepath: '/f', size: 20, mtimeMs: 2000 },
      ],
      reason,
    );
    // The store's own poll leaves forget requests alone (it knows only requeue requests).
    expect((await readStateSnapshot({ directory: f.dir })).requests).toEqual([]);
    await expect(store.pollRequests()).resolves.toEqual({ applied: 0, requeued: 0, invalid: 0 });
    expect(await readdir(join(f.dir, 'requests'))).toHaveLength(1);

    const result = await applyForgetRequests(store, f.logger);
    expect(result).toEqual({
      applied: 1,
      forgotten: [
        { filepath: '/q', size: 10, mtimeMs: 1000, reason },
        { filepath: '/f', size: 20, mtimeMs: 2000, reason },
      ],
      invalid: 0,
    });
    expect(store.queue.list().map((e) => e.filepath)).toEqual(['/keep']);
    expect(store.failed.size).toBe(0);
    expect(await readdir(join(f.dir, 'requests'))).toEqual([]);
    expect(
      (await readJson(join(f.dir, 'queue.json'))).files.map((e: { filepath: string }) => e.filepath),
    ).toEqual(['/keep']);
  });

  it('keeps an entry that records another version (the file was written again since)', async () => {
    const f = await fixture();
    const store = await f.open();
    await store.queue.add({ filepath: '/q', size: 99, mtimeMs: 5000 });
    await requestForget({ directory: f.dir }, [{ filepath: '/q', size: 10, mtimeMs: 1000 }], 'cleanup');
    await expect(applyForgetRequests(store)).resolves.toMatchObject({ applied: 1, forgotten: [] });
    expect(store.queue.has('/q')).toBe(true);
  });

  it('sets a malformed forget request aside and rejects an empty list', async () => {
    const f = await fixture();
    const store = await f.open();
    await mkdir(join(f.dir, 'requests'), { recursive: true });
    await writeFile(
      join(f.dir, 'requests', 'x.forget.json'),
      '{"type":"forget","files":[{"filepath":"/a"}]}',
    );
    await expect(applyForgetRequests(store, f.logger)).resolves.toEqual({
      applied: 0,
      forgotten: [],
      invalid: 1,
    });
    expect(await readdir(join(f.dir, 'requests'))).toEqual(['x.forget.json.invalid']);
    expect(f.logger.lines.at(-1)).toMatch(
      /^warn: Ignored the request .*x\.forget\.json: \/a: invalid `size`/,
    );
    await expect(requestForget({ directory: f.dir }, [], 'cleanup')).rejects.toThrow(TypeError);
  });
});

describe('readStateSnapshot', () => {
  it('reads the state while the store holds the lock and writes nothing', async () => {
    const f = await fixture();
    const store = await f.open();
    await store.queue.add({ filepath: '/q' });
    await store.failed.add({ filepath: '/f', category: 'c', message: 'm' });
    await store.registry.mark({ filepath: '/r', size: 1, mtimeMs: 1, key: 'k' });
    const before = (await readdir(f.dir)).sort();
    const snapshot = await readStateSnapshot({ directory: f.dir });
    expect(snapshot.queue.map((e) => e.filepath)).toEqual(['/q']);
    expect(snapshot.failed.map((e) => e.filepath)).toEqual(['/f']);
    expect(snapshot.registry.map((e) => e.key)).toEqual(['k']);
    expect(snapshot.lock).toMatchObject({ pid: process.pid, alive: true });
    expect(snapshot.warnings).toEqual([]);
    expect((await readdir(f.dir)).sort()).toEqual(before);
  });

  it('falls back to .bak for a corrupt file, reports it and leaves the file where it is', async () => {
    const f = await fixture();
    const store = await f.open();
    await store.queue.add({ filepath: '/a' });
    await store.queue.add({ filepath: '/b' });
    await store.close();
    await writeFile(join(f.dir, 'queue.json'), '{"version": 2, "files": [{"filep');
    const snapshot = await readStateSnapshot({ directory: f.dir });
    expect(snapshot.queue.map((e) => e.filepath)).toEqual(['/a']);
    expect(snapshot.warnings).toEqual([
      expect.stringMatching(/queue\.json is corrupt .*restored 1 entries from/),
    ]);
    expect(snapshot.lock).toBeUndefined();
    expect((await readdir(f.dir)).some((n) => n.includes('corrupt'))).toBe(false);
  });
});
