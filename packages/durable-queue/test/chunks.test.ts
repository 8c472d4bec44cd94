import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normaliseQueueEntry, normaliseRegistryEntry, identityKey } from '../src/entries.js';
import {
  CHUNK_CHARS,
  QueueLineParser,
  listChunks,
  registryChunks,
  serialiseList,
  serialiseRegistry,
} from '../src/formats.js';
import { QueueError, writeFileAtomic, type RegistryEntry } from '../src/index.js';
import { LineRuns, SEPARATOR } from '../src/runs.js';
import { fixture, tempDir } from './helpers.js';

// The serialisers as they were before the files were written in chunks, verbatim: the chunked output must be
// byte for byte what they produced (the runbook's `jq` queries and QueueLineParser read that layout).
function oldSerialiseList(lines: readonly string[]): string {
  if (lines.length === 0) return `{\n  "version": 2,\n  "files": []\n}\n`;
  return `{\n  "version": 2,\n  "files": [\n    ${lines.join(',\n    ')}\n  ]\n}\n`;
}

function oldSerialiseRegistry(entries: Iterable<RegistryEntry>, generation?: number): string {
  const lines: string[] = [];
  for (const entry of entries) lines.push(`${JSON.stringify(identityKey(entry))}: ${JSON.stringify(entry)}`);
  const head = `{\n  "version": 2,\n${generation === undefined ? '' : `  "generation": ${generation},\n`}`;
  if (lines.length === 0) return `${head}  "files": {}\n}\n`;
  return `${head}  "files": {\n    ${lines.join(',\n    ')}\n  }\n}\n`;
}

/** Any string, multi-byte and astral characters included (a chunk boundary may fall next to one). */
const text = fc.string({ unit: 'binary' });

const queueEntry = fc
  .record({
    filepath: fc.string({ minLength: 1, unit: 'binary' }),
    size: fc.option(fc.nat(), { nil: undefined }),
    note: fc.option(text, { nil: undefined }),
  })
  .map((raw) => normaliseQueueEntry(raw, 5, { strict: false, problems: [] }));

const registryEntry = fc
  .record({
    filepath: fc.string({ minLength: 1, unit: 'binary' }),
    size: fc.nat(),
    mtimeMs: fc.nat(),
    key: text,
  })
  .map((raw) => normaliseRegistryEntry(raw, 5, { strict: false, problems: [] }));

/** Chunk sizes from one character (every line its own chunk) to more than the whole document. */
const chunkSize = fc.oneof(fc.integer({ min: 1, max: 400 }), fc.constant(Infinity));

describe('listChunks', () => {
  it('joins to exactly the bytes the whole-string serialiser wrote, at any chunk size', () => {
    fc.assert(
      fc.property(fc.array(queueEntry, { maxLength: 30 }), chunkSize, (entries, size) => {
        const lines = entries.map((e) => JSON.stringify(e));
        const chunks = [...listChunks(lines, size)];
        expect(Buffer.from(chunks.join(''))).toEqual(Buffer.from(oldSerialiseList(lines)));
        expect(serialiseList(lines)).toBe(oldSerialiseList(lines));
      }),
    );
  });

  it('cuts a long list into bounded chunks, each ending where a whole entry ends', () => {
    const lines = Array.from({ length: 20_000 }, (_, i) =>
      JSON.stringify({ filepath: `/logs/日志-${i}.log` }),
    );
    const chunks = [...listChunks(lines)];
    expect(chunks.length).toBeGreaterThan(5);
    const longest = Math.max(...lines.map((l) => l.length));
    for (const chunk of chunks) expect(chunk.length).toBeLessThan(CHUNK_CHARS + longest + 64);
    // Every chunk but the last stops right after an entry: the next one starts with the separator.
    for (const chunk of chunks.slice(1))
      expect(chunk.startsWith(',\n    {"filepath"') || chunk === '\n  ]\n}\n').toBe(true);
    expect(chunks.join('')).toBe(oldSerialiseList(lines));
  });
});

describe('LineRuns', () => {
  /** Frozen entries that count how often they are serialised. */
  let serialised = 0;
  const item = (id: number, version = 0) =>
    Object.freeze({
      id,
      version,
      toJSON() {
        serialised++;
        return { filepath: `/logs/${id}-${'ü'.repeat(id % 7)}`, version };
      },
    });

  it('gives exactly the joined lines of each list, through any sequence of adds, changes and removals', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), count: fc.integer({ min: 1, max: 30 }) }),
      fc.record({ kind: fc.constant('change' as const), at: fc.nat() }),
      fc.record({
        kind: fc.constant('remove' as const),
        at: fc.nat(),
        count: fc.integer({ min: 1, max: 20 }),
      }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.array(op, { maxLength: 25 }), (size, ops) => {
        const runs = new LineRuns(size);
        let list: object[] = [];
        let next = 0;
        for (const o of ops) {
          if (o.kind === 'add') for (let k = 0; k < o.count; k++) list.push(item(next++));
          else if (list.length > 0 && o.kind === 'change') {
            const at = o.at % list.length;
            list = list.map((e, i) =>
              i === at ? item((e as { id: number }).id, (e as { version: number }).version + 1) : e,
            );
          } else if (list.length > 0 && o.kind === 'remove') list.splice(o.at % list.length, o.count);
          const snapshot = [...list];
          expect([...runs.texts(snapshot)].join(SEPARATOR)).toBe(
            snapshot.map((e) => JSON.stringify(e)).join(SEPARATOR),
          );
        }
      }),
    );
  });

  it('serialises again only the run in which an entry changed', () => {
    const runs = new LineRuns(1000);
    const list = Array.from({ length: 2000 }, (_, i) => item(i));
    serialised = 0;
    const first = [...runs.texts(list)];
    expect(serialised).toBe(2000);
    expect(first.length).toBeGreaterThan(20);
    serialised = 0;
    expect([...runs.texts(list)]).toEqual(first);
    expect(serialised).toBe(0);
    list[1000] = item(1000, 1);
    list.splice(0, 3);
    serialised = 0;
    const text = [...runs.texts(list)].join(SEPARATOR);
    const again = serialised;
    expect(text).toBe(list.map((e) => JSON.stringify(e)).join(SEPARATOR));
    // Two runs' worth (the first, cut short by the removal, and the changed one), not the whole list.
    const perRun = 2000 / first.length;
    expect(again).toBeGreaterThan(1);
    expect(again).toBeLessThanOrEqual(2 * perRun + 5);
  });
});

describe('registryChunks', () => {
  it('joins to exactly the bytes the whole-string serialiser wrote, with and without a generation', () => {
    fc.assert(
      fc.property(
        fc.array(registryEntry, { maxLength: 30 }),
        fc.option(fc.nat(), { nil: undefined }),
        chunkSize,
        (entries, generation, size) => {
          const expected = oldSerialiseRegistry(entries, generation);
          expect([...registryChunks(entries, generation, size)].join('')).toBe(expected);
          expect(serialiseRegistry(entries, generation)).toBe(expected);
        },
      ),
    );
  });
});

describe('writeFileAtomic with chunks', () => {
  it('writes the chunks one after another as UTF-8, multi-byte characters split across chunks included', async () => {
    const dir = await tempDir();
    const file = join(dir, 'state.json');
    const chunks = ['{"a":"日', '志', '😀', '"}', '', '\n'];
    await writeFileAtomic(file, chunks);
    expect(await readFile(file)).toEqual(Buffer.from(chunks.join(''), 'utf8'));
    // 20 MB in 64 KiB pieces: the same bytes as one string.
    const big = Array.from({ length: 320 }, (_, i) => `${i}`.padEnd(CHUNK_CHARS, 'ü'));
    await writeFileAtomic(file, big, { backup: true });
    expect((await readFile(file)).equals(Buffer.from(big.join(''), 'utf8'))).toBe(true);
    expect(await readFile(`${file}.bak`, 'utf8')).toBe(chunks.join(''));
  });

  it('leaves the old file and no temp file when making a chunk fails', async () => {
    const dir = await tempDir();
    const file = join(dir, 'state.json');
    await writeFile(file, 'old\n');
    function* failing(): Generator<string> {
      yield 'new'.repeat(100_000);
      throw new Error('cannot serialise');
    }
    const error: unknown = await writeFileAtomic(file, failing(), { backup: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueueError);
    expect((error as QueueError).code).toBe('WRITE_FAILED');
    expect((error as QueueError).message).toContain('cannot serialise');
    expect(await readFile(file, 'utf8')).toBe('old\n');
    expect((await readdir(dir)).sort()).toEqual(['state.json']);
  });
});

describe('the store writes its files in chunks', () => {
  it('writes a queue of several chunks byte for byte as the whole-string serialiser, read back line by line', async () => {
    const f = await fixture();
    const store = await f.open();
    // About 4 chunks' worth, with multi-byte paths.
    const inputs = Array.from({ length: 3000 }, (_, i) => ({
      filepath: `/home/autoware/.ros/log/run-${i % 7}/节点-${String(i).padStart(5, '0')}.log`,
      size: i,
      mtimeMs: 1_760_000_000_000 + i,
      source: 'ros',
    }));
    await expect(store.queue.addAll(inputs)).resolves.toBe(3000);
    await store.queue.update(inputs[10]!.filepath, {
      attempts: 2,
      lastError: { category: 'network', message: 'x' },
    });
    await store.queue.remove(inputs[0]!.filepath);
    const text = await readFile(join(f.dir, 'queue.json'), 'utf8');
    expect(text.length).toBeGreaterThan(3 * CHUNK_CHARS);
    expect(text).toBe(oldSerialiseList(store.queue.list().map((e) => JSON.stringify(e))));
    const parser = new QueueLineParser(7);
    for (const line of text.split('\n')) expect(parser.line(line)).toBe(true);
    expect(parser.finish()?.entries).toEqual(store.queue.list());
  });

  it('writes the registry snapshot byte for byte as the whole-string serialiser', async () => {
    const f = await fixture();
    const store = await f.open();
    await Promise.all(
      Array.from({ length: 1500 }, (_, i) =>
        store.registry.mark({
          filepath: `/logs/ü-${i}.log`,
          size: i,
          mtimeMs: i * 1000,
          key: `v/ü-${i}.log`,
        }),
      ),
    );
    await store.close();
    const text = await readFile(join(f.dir, 'processed_files.json'), 'utf8');
    const generation = (JSON.parse(text) as { generation: number }).generation;
    const reopened = await f.open();
    expect(text).toBe(oldSerialiseRegistry(reopened.registry.list(), generation));
  });
});
