import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture, readJson } from './helpers.js';

const paths = (doc: { files: { filepath: string }[] }) => doc.files.map((e) => e.filepath);

/** What an operator does with nano: rewrite the file in place (same inode, new content). */
async function edit(
  file: string,
  change: (doc: { files: Record<string, unknown>[] }) => void,
): Promise<void> {
  const doc = JSON.parse(await readFile(file, 'utf8')) as { files: Record<string, unknown>[] };
  change(doc);
  await writeFile(file, JSON.stringify(doc, null, 2));
}

describe('StateStore outside edits (runbook "Option 3" while the agent runs)', () => {
  it('merges an edit into its next write: the edit wins where it changed something, memory elsewhere', async () => {
    const f = await fixture();
    const store = await f.open();
    await store.queue.add({ filepath: '/a', attempts: 0 });
    await store.queue.add({ filepath: '/b' });
    await store.queue.add({ filepath: '/keep' });
    const file = join(f.dir, 'queue.json');
    await edit(file, (doc) => {
      doc.files = doc.files.filter((e) => e['filepath'] !== '/b');
      doc.files[0] = { ...doc.files[0], attempts: 7 };
      doc.files.push({ filepath: '/c' });
    });
    // Memory changes meanwhile: one entry the edit did not touch, one new file.
    await store.queue.update('/keep', { attempts: 3 });
    await store.queue.add({ filepath: '/d' });
    expect(paths(await readJson(file))).toEqual(['/a', '/keep', '/c', '/d']);
    expect(store.queue.get('/a')?.attempts).toBe(7);
    expect(store.queue.get('/keep')?.attempts).toBe(3);
    expect(store.queue.has('/b')).toBe(false);
    expect(f.logger.lines).toEqual([
      'info: queue.json was edited outside the agent: merged 1 added, 1 changed and 1 removed entries',
    ]);
  });

  it('merges an edit on pollRequests() when nothing else is written, filling the defaults', async () => {
    const f = await fixture();
    const store = await f.open();
    await store.queue.add({ filepath: '/a' });
    const file = join(f.dir, 'queue.json');
    await edit(file, (doc) => doc.files.push({ filepath: '/by-hand.log' }));
    await store.pollRequests();
    expect(store.queue.has('/by-hand.log')).toBe(true);
    await store.flush();
    expect((await readJson(file)).files[1]).toEqual({
      filepath: '/by-hand.log',
      detectedAt: f.clock.now(),
      attempts: 0,
      nextAttemptAt: 0,
    });
    // Its own write is not taken for an edit.
    await store.pollRequests();
    expect(f.logger.lines).toHaveLength(1);
  });

  it('keeps memory where the edit left an entry alone: an upload removed since stays removed', async () => {
    const f = await fixture();
    const store = await f.open({ commitDelayMs: 20 });
    await store.queue.add({ filepath: '/uploaded' });
    await store.queue.add({ filepath: '/other' });
    const file = join(f.dir, 'queue.json');
    const removed = store.queue.remove('/uploaded');
    await edit(file, (doc) => doc.files.push({ filepath: '/new' }));
    await removed;
    expect(paths(await readJson(file))).toEqual(['/other', '/new']);
  });

  it('sets an unparseable edit aside, merges nothing and writes memory back, without failing', async () => {
    const f = await fixture();
    const store = await f.open();
    await store.queue.add({ filepath: '/a' });
    const file = join(f.dir, 'queue.json');
    await writeFile(file, '{"files": [{"filepath": "/half');
    await expect(store.pollRequests()).resolves.toMatchObject({ applied: 0 });
    await store.flush();
    expect(paths(await readJson(file))).toEqual(['/a']);
    const kept = (await readdir(f.dir)).filter((n) => n.startsWith('queue.json.rejected-edit-'));
    expect(kept).toHaveLength(1);
    expect(await readFile(join(f.dir, kept[0] as string), 'utf8')).toBe('{"files": [{"filepath": "/half');
    expect(f.logger.lines).toEqual([
      expect.stringMatching(
        /^warn: queue\.json was edited outside the agent, but the edit is unusable \(not valid JSON: .*\); kept it as .*rejected-edit-.*, merged nothing/,
      ),
    ]);
  });

  it('does not merge an edit with an invalid entry (it would drop that entry)', async () => {
    const f = await fixture();
    const store = await f.open();
    await store.queue.add({ filepath: '/a' });
    const file = join(f.dir, 'queue.json');
    await edit(file, (doc) => {
      doc.files[0] = { file: '/a' };
      doc.files.push({ filepath: '/b' });
    });
    await store.pollRequests();
    await store.flush();
    expect(store.queue.list().map((e) => e.filepath)).toEqual(['/a']);
    expect(f.logger.lines[0]).toMatch(/edit is unusable \(queue entry at index 0 skipped: /);
  });

  it('takes a failed file the operator put back into queue.json off the failed list', async () => {
    const f = await fixture();
    const store = await f.open();
    await store.queue.add({ filepath: '/f', size: 5 });
    await store.failed.add({ filepath: '/f', category: 'access-denied', message: 'AccessDenied' });
    const file = join(f.dir, 'queue.json');
    await edit(file, (doc) => doc.files.push({ filepath: '/f' }));
    await store.pollRequests();
    await store.flush();
    expect(store.queue.has('/f')).toBe(true);
    expect(store.failed.has('/f')).toBe(false);
    expect(paths(await readJson(join(f.dir, 'failed.json')))).toEqual([]);
    expect(f.logger.lines[0]).toMatch(
      /merged 1 added.*\(1 of them were on the failed list too and stay queued\)/,
    );
  });

  it('merges an edit of failed.json the same way', async () => {
    const f = await fixture();
    const store = await f.open();
    for (const p of ['/x', '/y']) {
      await store.queue.add({ filepath: p });
      await store.failed.add({ filepath: p, category: 'file-not-found', message: 'gone' });
    }
    const file = join(f.dir, 'failed.json');
    await edit(file, (doc) => (doc.files = doc.files.filter((e) => e['filepath'] !== '/x')));
    await store.pollRequests();
    expect(store.failed.list().map((e) => e.filepath)).toEqual(['/y']);
    expect(f.logger.lines).toEqual([
      'info: failed.json was edited outside the agent: merged 0 added, 0 changed and 1 removed entry',
    ]);
  });
});
