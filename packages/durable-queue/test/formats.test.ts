import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { forEachLine } from '../src/adapters/files.js';
import { normaliseQueueEntry } from '../src/entries.js';
import { QueueLineParser, parseQueueFile, serialiseList } from '../src/formats.js';
import { tempDir } from './helpers.js';

function viaLines(text: string) {
  const parser = new QueueLineParser(7);
  for (const line of text.split('\n')) if (!parser.line(line)) return undefined;
  return parser.finish();
}

const entry = fc
  .record({
    filepath: fc.string({ minLength: 1, unit: 'binary' }),
    size: fc.option(fc.nat(), { nil: undefined }),
    attempts: fc.option(fc.nat(20), { nil: undefined }),
    note: fc.option(fc.string({ unit: 'binary' }), { nil: undefined }),
  })
  .map((raw) => normaliseQueueEntry(raw, 5, { strict: false, problems: [] }));

describe('QueueLineParser', () => {
  it('reads whatever the store writes exactly as the whole-document parser does', () => {
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 20 }), (entries) => {
        const text = serialiseList(entries.map((e) => JSON.stringify(e)));
        const fast = viaLines(text);
        expect(fast).toBeDefined();
        expect(fast).toEqual(parseQueueFile(text, 7));
      }),
    );
  });

  it.each([
    ['a truncated file', serialiseList(['{"filepath":"/a"}', '{"filepath":"/b"}']).slice(0, 60)],
    [
      'a missing comma',
      '{\n  "version": 2,\n  "files": [\n    {"filepath":"/a"}\n    {"filepath":"/b"}\n  ]\n}\n',
    ],
    ['a trailing comma', '{\n  "version": 2,\n  "files": [\n    {"filepath":"/a"},\n  ]\n}\n'],
    [
      'two entries on a line',
      '{\n  "version": 2,\n  "files": [\n    {"filepath":"/a"}, {"filepath":"/b"}\n  ]\n}\n',
    ],
    ['pretty-printed JSON', JSON.stringify({ version: 2, files: [{ filepath: '/a' }] }, null, 2)],
    ['the old bare array', '[{"filepath": "/a"}]'],
    ['text after the document', `${serialiseList(['{"filepath":"/a"}'])}x\n`],
  ])('declines %s, leaving it to the whole-document parser', (_label, text) => {
    expect(viaLines(text)).toBeUndefined();
  });
});

describe('forEachLine', () => {
  it('decodes multi-byte characters split between 1 MiB chunks', async () => {
    const dir = await tempDir();
    const file = join(dir, 'lines.txt');
    // 3-byte characters, so that chunk boundaries fall inside characters.
    const lines = Array.from({ length: 3000 }, (_, i) => `${i}:${'日志'.repeat(200)}`);
    await writeFile(file, lines.join('\n'));
    const seen: string[] = [];
    await expect(forEachLine(file, (line) => seen.push(line) > 0)).resolves.toBe(true);
    expect(seen).toEqual(lines);
    await expect(forEachLine(join(dir, 'missing'), () => true)).resolves.toBeUndefined();
  });
});
