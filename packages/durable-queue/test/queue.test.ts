import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { QueueError } from '../src/index.js';
import { fixture, readJson } from './helpers.js';

describe('UploadQueue', () => {
  it('applies an add in memory at once and makes it durable when the promise resolves', async () => {
    const f = await fixture();
    const store = await f.open();
    const pending = store.queue.add({ filepath: '/logs/a.log', size: 10, mtimeMs: 5, source: 'ros' });
    expect(store.queue.get('/logs/a.log')?.size).toBe(10);
    await expect(pending).resolves.toBe(true);
    const file = await readJson(join(f.dir, 'queue.json'));
    expect(file.files).toEqual([
      {
        filepath: '/logs/a.log',
        size: 10,
        mtimeMs: 5,
        source: 'ros',
        detectedAt: f.clock.now(),
        attempts: 0,
        nextAttemptAt: 0,
      },
    ]);
  });

  it('keeps the queue across a reopen', async () => {
    const f = await fixture();
    const first = await f.open();
    await first.queue.add({ filepath: '/a', size: 1 });
    await first.queue.add({ filepath: '/b', size: 2, custom: { note: 'kept' } });
    await first.close();
    const second = await f.open();
    expect(second.queue.list().map((e) => e.filepath)).toEqual(['/a', '/b']);
    expect(second.queue.get('/b')?.['custom']).toEqual({ note: 'kept' });
  });

  it('de-duplicates by path and keeps the existing entry', async () => {
    const f = await fixture();
    const store = await f.open();
    await store.queue.add({ filepath: '/a', size: 1 });
    await store.queue.update('/a', { attempts: 3 });
    await expect(store.queue.add({ filepath: '/a', size: 99 })).resolves.toBe(false);
    expect(store.queue.size).toBe(1);
    expect(store.queue.get('/a')).toMatchObject({ size: 1, attempts: 3 });
  });

  it.each([
    ['no filepath', { size: 1 }],
    ['an empty filepath', { filepath: '' }],
    ['a non-string filepath', { filepath: 42 }],
    ['a negative size', { filepath: '/a', size: -1 }],
    ['a fractional attempts count', { filepath: '/a', attempts: 1.5 }],
    [
      'a multipart state without an upload id',
      { filepath: '/a', multipart: { key: 'k', partSize: 5, parts: [] } },
    ],
  ])('rejects an entry with %s as INVALID_ENTRY and stays usable', async (_label, input) => {
    const f = await fixture();
    const store = await f.open();
    const error: unknown = await store.queue.add(input as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueueError);
    expect((error as QueueError).code).toBe('INVALID_ENTRY');
    await expect(store.queue.add({ filepath: '/ok' })).resolves.toBe(true);
    expect(store.queue.list().map((e) => e.filepath)).toEqual(['/ok']);
  });

  it('updates retry and multipart state and removes a field given as undefined', async () => {
    const f = await fixture();
    const store = await f.open();
    await store.queue.add({ filepath: '/big', size: 20 });
    const multipart = {
      uploadId: 'u-1',
      key: 'v/2025-10-20/ros/big',
      partSize: 8,
      parts: [{ partNumber: 1, etag: '"e1"', checksum: 'c1', size: 8 }],
      startedAt: 1000,
    };
    await store.queue.update('/big', {
      attempts: 2,
      nextAttemptAt: 5000,
      lastError: { category: 'network', message: 'ECONNRESET' },
      multipart,
    });
    const reopened = await (async () => {
      await store.close();
      return f.open();
    })();
    expect(reopened.queue.get('/big')).toMatchObject({
      attempts: 2,
      nextAttemptAt: 5000,
      lastError: { category: 'network', message: 'ECONNRESET' },
      multipart,
    });
    const cleared = await reopened.queue.update('/big', {
      lastError: undefined,
      multipart: undefined,
      attempts: undefined,
    });
    expect(cleared).not.toHaveProperty('lastError');
    expect(cleared).not.toHaveProperty('multipart');
    expect(cleared?.attempts).toBe(2);
  });

  it('resolves undefined when updating a path that is not queued, and refuses to change filepath', async () => {
    const f = await fixture();
    const store = await f.open();
    await expect(store.queue.update('/missing', { attempts: 1 })).resolves.toBeUndefined();
    await store.queue.add({ filepath: '/a' });
    await expect(store.queue.update('/a', { filepath: '/b' } as never)).rejects.toMatchObject({
      code: 'INVALID_ENTRY',
    });
  });

  it('removes entries durably', async () => {
    const f = await fixture();
    const store = await f.open();
    await store.queue.add({ filepath: '/a' });
    await store.queue.add({ filepath: '/b' });
    await expect(store.queue.remove('/a')).resolves.toBe(true);
    await expect(store.queue.remove('/a')).resolves.toBe(false);
    expect(
      (await readJson(join(f.dir, 'queue.json'))).files.map((e: { filepath: string }) => e.filepath),
    ).toEqual(['/b']);
  });

  it('returns due entries oldest first by default, newest first on request, with a limit', async () => {
    const f = await fixture();
    const store = await f.open();
    const now = f.clock.now();
    await Promise.all([
      store.queue.add({ filepath: '/mid', mtimeMs: 2000 }),
      store.queue.add({ filepath: '/old', mtimeMs: 1000 }),
      store.queue.add({ filepath: '/new', mtimeMs: 3000 }),
      store.queue.add({ filepath: '/later', mtimeMs: 500, nextAttemptAt: now + 60_000 }),
    ]);
    expect(store.queue.due().map((e) => e.filepath)).toEqual(['/old', '/mid', '/new']);
    expect(store.queue.due(now, { order: 'newest_first', limit: 2 }).map((e) => e.filepath)).toEqual([
      '/new',
      '/mid',
    ]);
    await f.clock.advance(60_000);
    expect(store.queue.due()[0]?.filepath).toBe('/later');
    expect(() => store.queue.due(now, { order: 'random' as never })).toThrow(TypeError);
    expect(() => store.queue.due(now, { limit: -1 })).toThrow(
      'Expected `limit` to be a non-negative integer, got -1',
    );
  });

  it('hands out frozen entries, so a caller cannot change state behind the store', async () => {
    const f = await fixture();
    const store = await f.open();
    await store.queue.add({ filepath: '/a', attempts: 0 });
    const entry = store.queue.get('/a') as { attempts: number };
    expect(() => {
      entry.attempts = 5;
    }).toThrow(TypeError);
  });

  it('coalesces concurrent mutations into a few writes and loses none', async () => {
    const f = await fixture();
    const store = await f.open();
    const adds = Array.from({ length: 2000 }, (_, i) => store.queue.add({ filepath: `/f/${i}`, size: i }));
    await Promise.all(adds);
    const removes = Array.from({ length: 1000 }, (_, i) => store.queue.remove(`/f/${i * 2}`));
    await Promise.all(removes);
    const file = await readJson(join(f.dir, 'queue.json'));
    expect(file.files).toHaveLength(1000);
    expect(file.files[0].filepath).toBe('/f/1');
  });

  it('queues a batch with addAll: one promise, first of a path wins, failed files leave their list', async () => {
    const f = await fixture();
    const store = await f.open();
    await store.queue.add({ filepath: '/queued', size: 1 });
    await store.failed.add({ filepath: '/failed', category: 'access-denied', message: 'AccessDenied' });
    const pending = store.queue.addAll([
      { filepath: '/queued', size: 99 },
      { filepath: '/new', size: 2 },
      { filepath: '/new', size: 3 },
      { filepath: '/failed', size: 4 },
    ]);
    // Memory changed before the promise settles, as for add().
    expect(store.queue.list().map((e) => [e.filepath, e.size])).toEqual([
      ['/queued', 1],
      ['/new', 2],
      ['/failed', 4],
    ]);
    expect(store.failed.has('/failed')).toBe(false);
    await expect(pending).resolves.toBe(2);
    expect(
      (await readJson(join(f.dir, 'queue.json'))).files.map((e: { filepath: string }) => e.filepath),
    ).toEqual(['/queued', '/new', '/failed']);
    expect((await readJson(join(f.dir, 'failed.json'))).files).toEqual([]);
    await expect(store.queue.addAll([{ filepath: '/new' }])).resolves.toBe(0);
    await expect(store.queue.addAll([])).resolves.toBe(0);
  });

  it('queues the valid inputs of addAll and then rejects naming the invalid ones', async () => {
    const f = await fixture();
    const store = await f.open();
    const error: unknown = await store.queue
      .addAll([{ filepath: '/a' }, { filepath: '' }, { filepath: '/b', size: -1 }, { filepath: '/c' }])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueueError);
    expect((error as QueueError).code).toBe('INVALID_ENTRY');
    expect((error as QueueError).message).toMatch(/filepath.*\(and 1 more invalid input\(s\) skipped\)/);
    // Rejected only once the valid ones are durable.
    expect(
      (await readJson(join(f.dir, 'queue.json'))).files.map((e: { filepath: string }) => e.filepath),
    ).toEqual(['/a', '/c']);
    // Nothing valid: it rejects as add() does, without waiting for a write.
    await expect(store.queue.addAll([{ filepath: 7 } as never])).rejects.toMatchObject({
      code: 'INVALID_ENTRY',
    });
  });

  it('rejects mutations after close with CLOSED', async () => {
    const f = await fixture();
    const store = await f.open();
    await store.close();
    await expect(store.queue.add({ filepath: '/a' })).rejects.toMatchObject({
      name: 'QueueError',
      code: 'CLOSED',
    });
    await expect(store.queue.addAll([{ filepath: '/a' }])).rejects.toMatchObject({ code: 'CLOSED' });
    await expect(store.close()).resolves.toBeUndefined();
  });
});
