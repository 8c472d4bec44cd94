import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture, readJson } from './helpers.js';

const multipart = {
  uploadId: 'u-9',
  key: 'k',
  partSize: 8,
  parts: [{ partNumber: 1, etag: '"e"', size: 8 }],
  startedAt: 1,
};

describe('FailedList', () => {
  it('moves a file from the queue to the failed list with the time, category, message and attempts', async () => {
    const f = await fixture();
    const store = await f.open();
    await store.queue.add({ filepath: '/a', size: 7, source: 'ros', attempts: 10, multipart });
    await store.failed.add({ filepath: '/a', category: 'retries_exhausted', message: 'Retry 10/10 failed' });
    expect(store.queue.has('/a')).toBe(false);
    const queueFile = await readJson(join(f.dir, 'queue.json'));
    const failedFile = await readJson(join(f.dir, 'failed.json'));
    expect(queueFile.files).toEqual([]);
    expect(failedFile.files).toEqual([
      expect.objectContaining({
        filepath: '/a',
        size: 7,
        source: 'ros',
        attempts: 10,
        failedAt: f.clock.now(),
        category: 'retries_exhausted',
        message: 'Retry 10/10 failed',
        multipart,
      }),
    ]);
    expect(failedFile.files[0]).not.toHaveProperty('nextAttemptAt');
  });

  it('records a file that was never queued', async () => {
    const f = await fixture();
    const store = await f.open();
    const entry = await store.failed.add({
      filepath: '/x',
      category: 'not_found',
      message: 'File not found: /x',
    });
    expect(entry).toMatchObject({ attempts: 0, category: 'not_found' });
    expect(store.failed.list()).toHaveLength(1);
  });

  it.each([
    ['no category', { filepath: '/a', message: 'm' }],
    ['a non-string message', { filepath: '/a', category: 'c', message: 3 }],
    ['no filepath', { category: 'c', message: 'm' }],
  ])('rejects an input with %s as INVALID_ENTRY', async (_label, input) => {
    const f = await fixture();
    const store = await f.open();
    await expect(store.failed.add(input as never)).rejects.toMatchObject({ code: 'INVALID_ENTRY' });
  });

  it('requeues one file with attempts reset and due now, keeping its multipart state', async () => {
    const f = await fixture();
    const store = await f.open();
    await store.queue.add({
      filepath: '/a',
      attempts: 10,
      nextAttemptAt: f.clock.now() + 512_000,
      multipart,
    });
    await store.queue.add({ filepath: '/b' });
    await store.failed.add({ filepath: '/a', category: 'throttled', message: 'SlowDown' });
    await store.failed.add({ filepath: '/b', category: 'access_denied', message: 'AccessDenied' });
    await expect(store.failed.requeue('/a')).resolves.toBe(1);
    expect(store.queue.get('/a')).toMatchObject({ attempts: 0, nextAttemptAt: 0, multipart });
    expect(store.queue.get('/a')).not.toHaveProperty('category');
    expect(store.failed.list().map((e) => e.filepath)).toEqual(['/b']);
    await expect(store.failed.requeue('/nope')).resolves.toBe(0);
    await expect(store.failed.requeue('all')).resolves.toBe(1);
    expect((await readJson(join(f.dir, 'failed.json'))).files).toEqual([]);
    expect(
      (await readJson(join(f.dir, 'queue.json'))).files.map((e: { filepath: string }) => e.filepath),
    ).toEqual(['/a', '/b']);
  });

  it("leaves the list when the file is queued again (the runbook's restart or touch)", async () => {
    const f = await fixture();
    const store = await f.open();
    await store.failed.add({ filepath: '/a', category: 'not_found', message: 'gone' });
    await expect(store.queue.add({ filepath: '/a', size: 3 })).resolves.toBe(true);
    expect(store.failed.has('/a')).toBe(false);
    expect((await readJson(join(f.dir, 'failed.json'))).files).toEqual([]);
    expect((await readJson(join(f.dir, 'queue.json'))).files[0]).toMatchObject({
      filepath: '/a',
      size: 3,
      attempts: 0,
    });
  });

  it('removes an entry without requeueing it', async () => {
    const f = await fixture();
    const store = await f.open();
    await store.failed.add({ filepath: '/a', category: 'c', message: 'm' });
    await expect(store.failed.remove('/a')).resolves.toBe(true);
    await expect(store.failed.remove('/a')).resolves.toBe(false);
    expect(store.queue.size).toBe(0);
  });

  it('keeps in the queue a file found on both lists at open (a move cut short, or the runbook hand edit)', async () => {
    const f = await fixture();
    const first = await f.open();
    await first.failed.add({ filepath: '/a', category: 'access_denied', message: 'AccessDenied' });
    await first.close();
    // The runbook's "Option 3": an operator adds the file to queue.json by hand and restarts.
    await writeFile(join(f.dir, 'queue.json'), JSON.stringify({ files: [{ filepath: '/a' }] }));
    const second = await f.open();
    expect(second.queue.has('/a')).toBe(true);
    expect(second.failed.has('/a')).toBe(false);
    expect((await readJson(join(f.dir, 'failed.json'))).files).toEqual([]);
    expect(f.logger.lines).toContain('warn: 1 file(s) were both queued and failed; kept them in the queue');
  });
});
