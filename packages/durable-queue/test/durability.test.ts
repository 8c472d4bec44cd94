import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
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

  it('keeps a change whose write fails in memory, retries it until it is durable, and never rejects', async () => {
    const f = await fixture();
    const store = await f.open({ retryDelayMs: 5, maxRetryDelayMs: 20 });
    await store.queue.add({ filepath: '/a' });
    // A directory where the backup must go makes every write fail, as a full or read-only disk would.
    await mkdir(join(f.dir, 'queue.json.bak'));
    let settled: string | undefined;
    const added = store.queue.add({ filepath: '/b' }).then(
      () => (settled = 'resolved'),
      () => (settled = 'rejected'),
    );
    expect(store.queue.has('/b')).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    expect(settled).toBeUndefined();
    expect(store.writeProblem).toMatchObject({ code: 'EISDIR', since: f.clock.now() });
    expect(store.writeProblem?.failures).toBeGreaterThan(2);
    // First failure logged, the retries not (less than a minute on the store's clock).
    expect(f.logger.lines).toEqual([
      expect.stringMatching(/^error: Writing the state failed; keeping it in memory/),
    ]);
    await rm(join(f.dir, 'queue.json.bak'), { recursive: true });
    await added;
    expect(settled).toBe('resolved');
    expect(store.writeProblem).toBeUndefined();
    expect(f.logger.lines.at(-1)).toMatch(/^info: Writing the state works again after \d+ failed attempt/);
    expect(
      (await readJson(join(f.dir, 'queue.json'))).files.map((e: { filepath: string }) => e.filepath),
    ).toEqual(['/a', '/b']);
  });

  it('logs a failing write at most once a minute on its clock', async () => {
    const f = await fixture();
    const store = await f.open({ retryDelayMs: 5, maxRetryDelayMs: 5 });
    await store.queue.add({ filepath: '/a' });
    await mkdir(join(f.dir, 'queue.json.bak'));
    const pending = store.queue.add({ filepath: '/b' }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 60));
    await f.clock.advance(59_000);
    await new Promise((r) => setTimeout(r, 30));
    expect(f.logger.lines).toHaveLength(1);
    await f.clock.advance(1000);
    await new Promise((r) => setTimeout(r, 30));
    expect(f.logger.lines).toHaveLength(2);
    expect(f.logger.lines[1]).toMatch(/^error: Still cannot write the state \(\d+ attempts since /);
    await rm(join(f.dir, 'queue.json.bak'), { recursive: true });
    await store.flush();
    await pending;
    expect(f.logger.lines).toHaveLength(3);
  });

  it('gives up at close when the write still fails: one error line, waiting mutations reject', async () => {
    const f = await fixture();
    const store = await f.open({ retryDelayMs: 1000 });
    await store.queue.add({ filepath: '/a' });
    await mkdir(join(f.dir, 'queue.json.bak'));
    const added = store.queue.add({ filepath: '/b' }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 30));
    await store.close();
    expect(await added).toMatchObject({ code: 'WRITE_FAILED' });
    expect(f.logger.lines.at(-1)).toMatch(/^error: Closing without writing the state .* are lost$/);
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

  it('under load writes at most once per commitDelayMs, each write carrying what arrived meanwhile', async () => {
    const f = await fixture();
    const store = await f.open({ commitDelayMs: 100 });
    const written: number[] = [];
    const started = performance.now();
    // 30 changes, one every 10 ms, each awaited only by the bookkeeping below: back to back they took 30 writes.
    const changes: Promise<unknown>[] = [];
    for (let i = 0; i < 30; i++) {
      changes.push(
        store.queue.add({ filepath: `/p${i}` }).then(() => written.push(performance.now() - started)),
      );
      await new Promise((r) => setTimeout(r, 10));
    }
    await Promise.all(changes);
    const writes = new Set(written.map((t) => Math.round(t))).size;
    expect(writes).toBeLessThanOrEqual(5);
    expect((await readJson(join(f.dir, 'queue.json'))).files).toHaveLength(30);
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
