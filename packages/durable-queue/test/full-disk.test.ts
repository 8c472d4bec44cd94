import { execFileSync } from 'node:child_process';
import { appendFile, mkdir, mkdtemp, readdir, readFile, realpath, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFakeClock, fillFilesystem } from '@tvm/test-utils';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openStateStore, readStateSnapshot, type StateStore } from '../src/index.js';
import { readJson, recordingLogger } from './helpers.js';

const temps = async (dir: string) => (await readdir(dir)).filter((n) => n.endsWith('.tmp'));
const until = async (check: () => boolean) => {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
};

// A real filesystem that really fills up: a 1 MiB tmpfs (root may mount one, as disk-guard's tmpfs test does).
// Where mounting is refused the tests are skipped with the reason; durability.test.ts covers the retry logic.
describe('openStateStore on a full filesystem (a real 1 MiB tmpfs)', () => {
  let mountPoint = '';
  let mounted = false;
  let why = '';
  let dir = '';
  let filler = '';
  const stores: StateStore[] = [];

  beforeAll(async () => {
    mountPoint = await realpath(await mkdtemp(join(tmpdir(), 'durable-queue-tmpfs-')));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mountPoint], { stdio: 'pipe' });
      mounted = true;
    } catch (error) {
      why = error instanceof Error ? (error.message.split('\n')[0] ?? error.message) : String(error);
      console.warn(`Skipping the full-disk tests: mounting a tmpfs is not permitted here (${why})`);
    }
  });

  beforeEach(async () => {
    for (const store of stores.splice(0)) await store.close();
    if (!mounted) return;
    await rm(join(mountPoint, 'state'), { recursive: true, force: true });
    await rm(join(mountPoint, 'filler'), { force: true });
    dir = join(mountPoint, 'state');
    filler = join(mountPoint, 'filler');
    await mkdir(dir);
  });

  afterAll(async () => {
    for (const store of stores.splice(0)) await store.close();
    if (mounted) execFileSync('umount', [mountPoint]);
    await rm(mountPoint, { recursive: true, force: true });
  });

  const open = async (logger = recordingLogger()) => {
    const store = await openStateStore({
      directory: dir,
      clock: createFakeClock(),
      logger,
      retryDelayMs: 10,
      maxRetryDelayMs: 40,
    });
    stores.push(store);
    return store;
  };

  it('restarts on the full disk with a real lock, keeps changes in memory, and writes them once space returns', async (ctx) => {
    if (!mounted) return ctx.skip(`tmpfs mount refused: ${why}`);
    const first = await open();
    await first.queue.add({ filepath: '/logs/before.log', size: 1 });
    await first.close();
    stores.length = 0;
    await fillFilesystem(filler);

    const logger = recordingLogger();
    const store = await open(logger);
    const lock = JSON.parse(await readFile(join(dir, 'tvm-upload.lock'), 'utf8'));
    expect(lock).toMatchObject({ pid: process.pid });
    expect(lock.releasedAt).toBeUndefined();
    expect(store.queue.list().map((e) => e.filepath)).toEqual(['/logs/before.log']);

    // A newly detected file: memory has it at once, the write fails, nothing rejects, nothing is left behind.
    let durable = false;
    const added = store.queue.add({ filepath: '/logs/new.log', size: 2 }).then(() => (durable = true));
    expect(store.queue.has('/logs/new.log')).toBe(true);
    await until(() => (store.writeProblem?.failures ?? 0) >= 3);
    expect(store.writeProblem).toMatchObject({ code: 'ENOSPC' });
    expect(store.writeProblem?.error).toMatch(/queue\.json: ENOSPC/);
    expect(durable).toBe(false);
    expect(await temps(dir)).toEqual([]);
    await expect(store.pollRequests()).resolves.toEqual({ applied: 0, requeued: 0, invalid: 0 });
    expect(logger.lines.filter((l) => l.startsWith('error:'))).toHaveLength(1);
    expect(paths(await readJson(join(dir, 'queue.json')))).toEqual(['/logs/before.log']);

    // Space returns (the emergency cleanup deleted something): the next retry writes it, same process.
    await unlink(filler);
    await added;
    expect(store.writeProblem).toBeUndefined();
    expect(paths(await readJson(join(dir, 'queue.json')))).toEqual(['/logs/before.log', '/logs/new.log']);
    expect(logger.lines.at(-1)).toMatch(/^info: Writing the state works again after \d+ failed attempt/);
    expect(await temps(dir)).toEqual([]);
  });

  it('opens on a full disk with no lock file yet: an in-memory lock and one warning, no temp file left', async (ctx) => {
    if (!mounted) return ctx.skip(`tmpfs mount refused: ${why}`);
    await fillFilesystem(filler);
    const logger = recordingLogger();
    const store = await open(logger);
    expect(logger.lines).toEqual([
      expect.stringMatching(
        /^warn: Cannot create the lock file .*tvm-upload\.lock: ENOSPC.*holding the lock in memory only/,
      ),
    ]);
    expect(await readdir(dir)).toEqual([]);
    const done = store.queue.add({ filepath: '/a' });
    await until(() => store.writeProblem !== undefined);
    await unlink(filler);
    await done;
    // Once a write works, the lock gets its file: from then on a second agent is kept out again.
    expect(JSON.parse(await readFile(join(dir, 'tvm-upload.lock'), 'utf8'))).toMatchObject({
      pid: process.pid,
    });
    expect(logger.lines).toContainEqual(
      expect.stringMatching(/^info: Wrote the lock file .*tvm-upload\.lock now that the disk has space$/),
    );
    await expect(
      openStateStore({ directory: dir, clock: createFakeClock(), logger: recordingLogger() }),
    ).rejects.toMatchObject({ code: 'LOCKED' });
    await store.close();
    expect(paths(await readJson(join(dir, 'queue.json')))).toEqual(['/a']);
    expect(await temps(dir)).toEqual([]);
  });

  it('cuts a registry journal append that ran out of space back, so no partial line stays between good ones', async (ctx) => {
    if (!mounted) return ctx.skip(`tmpfs mount refused: ${why}`);
    const store = await open();
    await store.registry.mark({ filepath: '/logs/a.log', size: 1, mtimeMs: 1, key: 'k/a' });
    const journal = join(dir, 'processed_files.journal');
    const before = await readFile(journal, 'utf8');
    await fillFilesystem(filler);
    // Several pages: the disk takes part of it (a short write), then refuses the rest.
    let durable = false;
    const big = store.registry
      .mark({ filepath: '/logs/big.log', size: 2, mtimeMs: 2, key: 'k/big', note: 'x'.repeat(20_000) })
      .then(() => (durable = true));
    await until(() => (store.writeProblem?.failures ?? 0) >= 2);
    expect(store.writeProblem).toMatchObject({ code: 'ENOSPC' });
    expect(store.writeProblem?.error).toMatch(/processed_files\.journal: ENOSPC/);
    expect(durable).toBe(false);
    expect(await readFile(journal, 'utf8')).toBe(before);
    expect(await temps(dir)).toEqual([]);

    await unlink(filler);
    await big;
    await store.registry.mark({ filepath: '/logs/c.log', size: 3, mtimeMs: 3, key: 'k/c' });
    const lines = (await readFile(journal, 'utf8')).split('\n').filter((l) => l !== '');
    expect(lines.map((l) => Object.keys(JSON.parse(l) as object)[0])).toEqual([
      'journal',
      'mark',
      'mark',
      'mark',
    ]);
    const snapshot = await readStateSnapshot({ directory: dir });
    expect(snapshot.registry.map((e) => e.filepath)).toEqual(['/logs/a.log', '/logs/big.log', '/logs/c.log']);
  });

  it('cleans the temp files an earlier run left at open', async (ctx) => {
    if (!mounted) return ctx.skip(`tmpfs mount refused: ${why}`);
    await appendFile(join(dir, 'tvm-upload.lock.999999999.tmp'), '');
    await appendFile(join(dir, 'queue.json.4242-7.tmp'), '{');
    await appendFile(join(dir, 'processed_files.json.bak.4242-8.tmp'), '{');
    await appendFile(join(dir, 'unrelated.tmp'), 'x');
    await open();
    expect(await temps(dir)).toEqual(['unrelated.tmp']);
  });
});

const paths = (doc: { files: { filepath: string }[] }) => doc.files.map((e) => e.filepath);
