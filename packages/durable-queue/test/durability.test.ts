import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { QueueError } from '../src/index.js';
import { fixture, readJson } from './helpers.js';

describe('StateStore writes', () => {
  it('keeps the previous version as .bak', async () => {
    const f = await fixture();
    const store = await f.open();
    await store.queue.add({ filepath: '/a' });
    await store.queue.add({ filepath: '/b' });
    const bak = await readJson(join(f.dir, 'queue.json.bak'));
    const current = await readJson(join(f.dir, 'queue.json'));
    expect(bak.files.map((e: { filepath: string }) => e.filepath)).toEqual(['/a']);
    expect(current.files.map((e: { filepath: string }) => e.filepath)).toEqual(['/a', '/b']);
  });

  it('leaves queue.json complete and parseable at every moment while writes go on', async () => {
    const f = await fixture();
    const store = await f.open();
    await store.queue.add({ filepath: '/seed' });
    const file = join(f.dir, 'queue.json');
    let writing = true;
    const writer = (async () => {
      for (let i = 0; i < 300; i++) {
        await Promise.all([
          store.queue.add({ filepath: `/f/${i}`, size: i }),
          store.queue.remove(`/f/${i - 1}`),
        ]);
      }
      writing = false;
    })();
    let reads = 0;
    while (writing) {
      const doc = JSON.parse(await readFile(file, 'utf8'));
      expect(doc.files[0].filepath).toBe('/seed');
      reads++;
    }
    await writer;
    expect(reads).toBeGreaterThan(10);
  });

  it('removes the temp files a crash left behind', async () => {
    const f = await fixture();
    await writeFile(join(f.dir, 'queue.json.tmp'), '{"files": [{"filepath": "/half');
    await writeFile(join(f.dir, 'queue.json.bak.tmp'), 'x');
    await f.open();
    await expect(stat(join(f.dir, 'queue.json.tmp'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(stat(join(f.dir, 'queue.json.bak.tmp'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('rejects with WRITE_FAILED when a write fails, keeps the change and writes it with the next commit', async () => {
    const f = await fixture();
    const store = await f.open();
    await store.queue.add({ filepath: '/a' });
    // A directory where the temp file must go makes the write fail, as a full or read-only disk would.
    await mkdir(join(f.dir, 'queue.json.tmp'));
    const error: unknown = await store.queue.add({ filepath: '/b' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueueError);
    expect(error).toMatchObject({ code: 'WRITE_FAILED' });
    expect(store.queue.has('/b')).toBe(true);
    expect(f.logger.lines).toEqual([expect.stringMatching(/^error: Writing the state failed; will retry/)]);
    await expect(store.flush()).rejects.toMatchObject({ code: 'WRITE_FAILED' });
    await rm(join(f.dir, 'queue.json.tmp'), { recursive: true });
    await store.flush();
    expect(
      (await readJson(join(f.dir, 'queue.json'))).files.map((e: { filepath: string }) => e.filepath),
    ).toEqual(['/a', '/b']);
  });

  it('waits commitDelayMs on the clock before writing, to gather more changes', async () => {
    const f = await fixture();
    const store = await f.open({ commitDelayMs: 50 });
    let done = false;
    const added = store.queue.add({ filepath: '/a' }).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(done).toBe(false);
    await f.clock.advance(50);
    await added;
    expect((await readJson(join(f.dir, 'queue.json'))).files).toHaveLength(1);
  });

  it('opens explicit files in different directories, with a lock in each', async () => {
    const f = await fixture();
    const { openStateStore } = await import('../src/index.js');
    const store = await openStateStore({
      queueFile: join(f.dir, 'q', 'queue.json'),
      registryFile: join(f.dir, 'r', 'processed_files.json'),
      clock: f.clock,
      logger: f.logger,
    });
    expect(store.paths.lockFiles).toEqual([
      join(f.dir, 'q', 'tvm-upload.lock'),
      join(f.dir, 'r', 'tvm-upload.lock'),
    ]);
    expect(store.paths.failedFile).toBe(join(f.dir, 'q', 'failed.json'));
    await store.registry.mark({ filepath: '/a', size: 1, mtimeMs: 1, key: 'k' });
    await store.close();
    expect(Object.keys((await readJson(join(f.dir, 'r', 'processed_files.json'))).files)).toHaveLength(1);
  });

  it('rejects options without a directory or queue file', async () => {
    const { openStateStore } = await import('../src/index.js');
    await expect(openStateStore({})).rejects.toThrow(TypeError);
    await expect(openStateStore({ directory: '/tmp/x', commitDelayMs: -5 })).rejects.toThrow(
      'Expected `commitDelayMs` to be a non-negative number, got -5',
    );
  });
});
