import { copyFile, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStateStore, readStateSnapshot } from '../src/index.js';
import { JOURNAL_MIN_RECORDS } from '../src/store.js';
import { fixture, killAfter, readJson, recordingLogger, spawnFixture, tempDir } from './helpers.js';

const journalLines = async (dir: string) =>
  (await readFile(join(dir, 'processed_files.journal'), 'utf8')).split('\n').filter((l) => l !== '');

const record = (i: number) => ({
  filepath: `/logs/f${i}.log`,
  size: i,
  mtimeMs: 1000 + i,
  key: `v/f${i}.log`,
});

/** A copy of the registry files as a power cut would leave them (the store never closed). */
async function crashCopy(from: string): Promise<string> {
  const to = await tempDir();
  for (const name of await readdir(from))
    if (name.startsWith('processed_files')) await copyFile(join(from, name), join(to, name));
  return to;
}

describe('the registry journal', () => {
  it('appends one line per mark and leaves the snapshot alone; a reopen after a crash replays it', async () => {
    const f = await fixture();
    const first = await f.open({ registryRetentionDays: 100_000 });
    await Promise.all(Array.from({ length: 500 }, (_, i) => first.registry.mark(record(i))));
    await first.close();
    const snapshotBefore = await stat(join(f.dir, 'processed_files.json'));
    expect(Object.keys((await readJson(join(f.dir, 'processed_files.json'))).files)).toHaveLength(500);
    expect(await journalLines(f.dir)).toEqual([expect.stringMatching(/^\{"journal":1,"generation":\d+\}$/)]);

    const store = await f.open({ registryRetentionDays: 100_000 });
    await store.registry.mark(record(500));
    await store.registry.mark({ ...record(3), key: 'v/again' });
    const lines = await journalLines(f.dir);
    expect(lines).toHaveLength(3);
    expect(JSON.parse(lines[1] as string)).toEqual({ mark: expect.objectContaining(record(500)) });
    // The snapshot was not rewritten: the cost of a mark does not depend on how many records there are.
    const snapshotAfter = await stat(join(f.dir, 'processed_files.json'));
    expect([snapshotAfter.ino, snapshotAfter.mtimeMs]).toEqual([snapshotBefore.ino, snapshotBefore.mtimeMs]);

    // The lock-free reader sees the journal's records.
    const snapshot = await readStateSnapshot({ directory: f.dir, clock: f.clock });
    expect(snapshot.registry).toHaveLength(501);
    expect(snapshot.registry.find((e) => e.filepath === '/logs/f3.log')?.key).toBe('v/again');

    // The store is still open (as after a power cut): another store opened on a copy replays the journal.
    const copy = await crashCopy(f.dir);
    const logger = recordingLogger();
    const reopened = await openStateStore({
      directory: copy,
      clock: f.clock,
      logger,
      registryRetentionDays: 100_000,
    });
    expect(reopened.registry.size).toBe(501);
    expect(reopened.registry.get(record(3))?.key).toBe('v/again');
    expect(reopened.registry.list().at(-1)?.filepath).toBe('/logs/f3.log');
    expect(logger.lines).toEqual([]);
    // The open folded the journal into the snapshot.
    expect(await journalLines(copy)).toHaveLength(1);
    expect(Object.keys((await readJson(join(copy, 'processed_files.json'))).files)).toHaveLength(501);
    await reopened.close();
  });

  it('ignores a torn last line (an append cut short) and keeps every complete one', async () => {
    const f = await fixture();
    const first = await f.open({ registryRetentionDays: 100_000 });
    await first.registry.mark(record(1));
    await first.close();
    const journal = join(f.dir, 'processed_files.journal');
    const complete = `{"mark":${JSON.stringify({ ...record(2), uploadedAt: 5 })}}\n`;
    await writeFile(
      journal,
      (await readFile(journal, 'utf8')) + complete + '{"mark":{"filepath":"/logs/f3.l',
    );

    // The reader ignores it too.
    expect((await readStateSnapshot({ directory: f.dir, clock: f.clock })).registry).toHaveLength(2);
    const store = await f.open({ registryRetentionDays: 100_000 });
    expect(store.registry.has(record(1))).toBe(true);
    expect(store.registry.has(record(2))).toBe(true);
    expect(store.registry.size).toBe(2);
    expect(f.logger.lines).toEqual([
      'info: processed_files.journal: ignored a last line cut short by a crash (an append never acknowledged)',
    ]);
    // Compacted at open: the damage is gone and the next append starts on a clean line.
    expect(await journalLines(f.dir)).toHaveLength(1);
    await store.registry.mark(record(4));
    const lines = await journalLines(f.dir);
    expect(lines.map((l) => JSON.parse(l) as unknown)).toHaveLength(2);
  });

  it('skips a damaged line in the middle with a warning, keeping the lines after it', async () => {
    const f = await fixture();
    await writeFile(
      join(f.dir, 'processed_files.journal'),
      [
        '{"journal":1,"generation":0}',
        `{"mark":${JSON.stringify({ ...record(1), uploadedAt: 5 })}}`,
        'garbage',
        `{"mark":${JSON.stringify({ ...record(2), uploadedAt: 5 })}}`,
        '',
      ].join('\n'),
    );
    const store = await f.open({ registryRetentionDays: 100_000 });
    expect(store.registry.size).toBe(2);
    expect(f.logger.lines).toEqual([
      expect.stringMatching(
        /^warn: processed_files\.journal: 1 line\(s\) skipped: journal line 3 skipped: not valid JSON/,
      ),
    ]);
  });

  it('compacts once the journal outgrows its bound, and replays prunes', async () => {
    const f = await fixture();
    const store = await f.open({ registryRetentionDays: 1, pruneIntervalMs: 0 });
    for (let i = 0; i < JOURNAL_MIN_RECORDS; i++) store.registry.mark(record(i)).catch(() => undefined);
    await store.flush();
    expect(await journalLines(f.dir)).toHaveLength(JOURNAL_MIN_RECORDS + 1);
    await store.registry.mark(record(JOURNAL_MIN_RECORDS));
    // The compaction runs in the background, off the commit; flush() waits for it.
    await store.flush();
    // Compacted: the snapshot holds them all, the journal only its header.
    expect(await journalLines(f.dir)).toHaveLength(1);
    const file = await readJson(join(f.dir, 'processed_files.json'));
    expect(Object.keys(file.files)).toHaveLength(JOURNAL_MIN_RECORDS + 1);
    expect(JSON.parse((await journalLines(f.dir))[0] as string)).toEqual({
      journal: 1,
      generation: file.generation,
    });

    // A prune is one line; replayed over the snapshot it removes the same records.
    await f.clock.advance(2 * 86_400_000);
    await store.registry.mark(record(5000));
    expect(store.registry.size).toBe(1);
    expect((await journalLines(f.dir)).slice(1).map((l) => Object.keys(JSON.parse(l) as object)[0])).toEqual([
      'mark',
      'prune',
    ]);
    const copy = await crashCopy(f.dir);
    const reopened = await openStateStore({ directory: copy, clock: f.clock, logger: recordingLogger() });
    expect(reopened.registry.list().map((e) => e.filepath)).toEqual(['/logs/f5000.log']);
    await reopened.close();
    expect((await readStateSnapshot({ directory: f.dir, clock: f.clock })).registry).toHaveLength(1);
  });

  it('keeps compaction off the commit path: a snapshot that cannot be written holds up no mark', async () => {
    const f = await fixture();
    const first = await f.open({ registryRetentionDays: 100_000 });
    await first.registry.mark(record(0));
    await first.close(); // a snapshot exists now: the next one keeps it as `.bak`
    const store = await f.open({ registryRetentionDays: 100_000 });
    await Promise.all(
      Array.from({ length: JOURNAL_MIN_RECORDS }, (_, i) => store.registry.mark(record(i + 1))),
    );
    // The snapshot's write fails (its previous version cannot become `.bak`): before, the commit carrying the
    // compaction failed with it, and the mark waited, retried, with a write problem reported.
    await mkdir(join(f.dir, 'processed_files.json.bak'), { recursive: true });
    await writeFile(join(f.dir, 'processed_files.json.bak', 'x'), '');
    await store.registry.mark(record(JOURNAL_MIN_RECORDS + 1));
    await store.flush();
    await store.registry.mark(record(JOURNAL_MIN_RECORDS + 2));
    expect(store.writeProblem).toBeUndefined();
    expect(f.logger.lines).toEqual([
      expect.stringMatching(/^warn: Could not compact the registry .*(EISDIR|ENOTEMPTY|EEXIST)/),
    ]);
    expect(await journalLines(f.dir)).toHaveLength(JOURNAL_MIN_RECORDS + 3);
    await rm(join(f.dir, 'processed_files.json.bak'), { recursive: true });
    const copy = await crashCopy(f.dir);
    const reopened = await openStateStore({
      directory: copy,
      clock: f.clock,
      logger: recordingLogger(),
      registryRetentionDays: 100_000,
    });
    expect(reopened.registry.size).toBe(JOURNAL_MIN_RECORDS + 3);
    await reopened.close();
  });

  it('keeps the marks appended while a background compaction wrote its snapshot', async () => {
    const f = await fixture();
    const store = await f.open({ registryRetentionDays: 100_000 });
    await Promise.all(
      Array.from({ length: JOURNAL_MIN_RECORDS + 1 }, (_, i) => store.registry.mark(record(i))),
    );
    // The compaction has started; these marks go to the journal meanwhile, each awaited until durable.
    for (let i = 0; i < 50; i++) await store.registry.mark(record(JOURNAL_MIN_RECORDS + 1 + i));
    await store.flush();
    const file = await readJson(join(f.dir, 'processed_files.json'));
    const lines = await journalLines(f.dir);
    expect(JSON.parse(lines[0] as string)).toEqual({ journal: 1, generation: file.generation });
    // The journal holds what the snapshot may lack (the marks made after the cut), not the 1,001 before it.
    expect(lines.length).toBeLessThanOrEqual(51);
    const inSnapshot = new Set(
      Object.values(file.files as Record<string, { filepath: string }>).map((e) => e.filepath),
    );
    const inJournal = new Set(
      lines.slice(1).map((l) => (JSON.parse(l) as { mark: { filepath: string } }).mark.filepath),
    );
    for (let i = 0; i < JOURNAL_MIN_RECORDS + 51; i++) {
      const path = record(i).filepath;
      expect(inSnapshot.has(path) || inJournal.has(path), path).toBe(true);
    }
    const copy = await crashCopy(f.dir);
    const reopened = await openStateStore({
      directory: copy,
      clock: f.clock,
      logger: recordingLogger(),
      registryRetentionDays: 100_000,
    });
    expect(reopened.registry.size).toBe(JOURNAL_MIN_RECORDS + 51);
    await reopened.close();
    expect((await readStateSnapshot({ directory: f.dir, clock: f.clock })).registry).toHaveLength(
      JOURNAL_MIN_RECORDS + 51,
    );
  });

  it('the lock-free reader never misses an acknowledged mark while the store compacts under it', async () => {
    const f = await fixture();
    const store = await f.open({ registryRetentionDays: 100_000 });
    let acknowledged = 0;
    let done = false;
    const writer = (async () => {
      for (let batch = 0; batch < 12; batch++) {
        await Promise.all(
          Array.from({ length: 250 }, (_, i) => store.registry.mark(record(batch * 250 + i))),
        );
        acknowledged += 250;
      }
      done = true;
    })();
    let reads = 0;
    while (!done) {
      const before = acknowledged;
      const snapshot = await readStateSnapshot({ directory: f.dir, clock: f.clock });
      expect(snapshot.registry.length).toBeGreaterThanOrEqual(before);
      reads++;
    }
    await writer;
    expect(reads).toBeGreaterThan(3);
    // Compactions did happen meanwhile (the journal's bound is 1,000 changes here).
    expect((await readJson(join(f.dir, 'processed_files.json'))).generation).toBeGreaterThanOrEqual(2);
  });

  it('takes over the old daemon’s registry, journals new marks over it, and writes it back keyed the same way', async () => {
    const f = await fixture();
    const mtime = 1760455800.5;
    await writeFile(
      join(f.dir, 'processed_files.json'),
      JSON.stringify({
        _metadata: { version: '1.0', last_updated: '2025-10-14T15:40:00' },
        files: {
          [`/home/u/a.log::2048::${mtime}`]: {
            processed_at: 1760456000.5,
            size: 2048,
            mtime,
            filepath: '/home/u/a.log',
            filename: 'a.log',
          },
        },
      }),
    );
    const first = await f.open({ registryRetentionDays: 100_000 });
    await first.registry.mark(record(1));
    const copy = await crashCopy(f.dir);
    await first.close();
    for (const dir of [f.dir, copy]) {
      const store = await openStateStore({
        directory: dir,
        clock: f.clock,
        logger: recordingLogger(),
        registryRetentionDays: 100_000,
      });
      expect(store.registry.has({ filepath: '/home/u/a.log', size: 2048, mtimeMs: mtime * 1000 })).toBe(true);
      expect(store.registry.has(record(1))).toBe(true);
      await store.close();
      const file = await readJson(join(dir, 'processed_files.json'));
      expect(Object.keys(file.files).sort()).toEqual([
        '/home/u/a.log::2048::1760455800.5',
        '/logs/f1.log::1::1.001',
      ]);
    }
  });
});

describe('a store killed with SIGKILL while marking', () => {
  it(
    'loses no acknowledged mark, in appends and compactions, many times over',
    { timeout: 120_000 },
    async () => {
      const dir = await tempDir();
      const acknowledged = new Set<string>();
      let total = 0;
      const started = Date.now();
      let round = 0;
      for (; round < 12 && (round < 6 || Date.now() - started < 20_000); round++) {
        const child = spawnFixture('journal-child.ts', [dir, String(round)]);
        // Some rounds die after a few appends, others after a compaction (every 1,000 changes) or in the middle of one.
        const target =
          round % 3 === 0 ? 20 + Math.floor(Math.random() * 200) : 900 + Math.floor(Math.random() * 600);
        const lines = (await killAfter(child, /^M /, target)).filter((line) => line.startsWith('M '));
        for (const line of lines) acknowledged.add(line.slice(2));
        total += lines.length;

        const registryHas = (paths: Set<string>) => [...acknowledged].filter((p) => !paths.has(p));
        // The lock-free reader first (the daemon's state as it died), then a real open.
        const snapshot = await readStateSnapshot({ directory: dir });
        expect(
          registryHas(new Set(snapshot.registry.map((e) => e.filepath))),
          `round ${round}, reader`,
        ).toEqual([]);
        expect(snapshot.warnings, `round ${round}`).toEqual([]);
        const logger = recordingLogger();
        const store = await openStateStore({ directory: dir, logger, registryRetentionDays: 100_000 });
        expect(
          logger.lines.filter((l) => !/stale lock|cut short by a crash/.test(l)),
          `round ${round}`,
        ).toEqual([]);
        const missing = [...acknowledged].filter(
          (p) => !store.registry.has({ filepath: p, size: 1, mtimeMs: 1 }),
        );
        expect(missing, `round ${round}`).toEqual([]);
        await store.close();
      }
      expect(total).toBeGreaterThan(3000);
      expect((await readdir(dir)).filter((n) => n.includes('.corrupt-'))).toEqual([]);
    },
  );
});
