import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture } from './helpers.js';

const good = (paths: string[]) =>
  JSON.stringify({ version: 2, files: paths.map((filepath) => ({ filepath })) });

const damage: Array<[string, Buffer]> = [
  ['a truncated file', Buffer.from(good(['/a', '/b']).slice(0, 25))],
  ['garbage bytes', Buffer.from([0xff, 0x00, 0x13, 0x37, 0xc3, 0x28, 0x7b])],
  ['an empty file', Buffer.alloc(0)],
];

describe('openStateStore with damaged files', () => {
  describe.each(damage)('queue.json holding %s', (_label, bytes) => {
    it('keeps the file aside, restores the backup and says so in one line', async () => {
      const f = await fixture();
      await writeFile(join(f.dir, 'queue.json'), bytes);
      await writeFile(join(f.dir, 'queue.json.bak'), good(['/from-backup']));
      const store = await f.open();
      expect(store.queue.list().map((e) => e.filepath)).toEqual(['/from-backup']);
      const names = await readdir(f.dir);
      const aside = names.filter((n) => n.startsWith('queue.json.corrupt-'));
      expect(aside).toEqual(['queue.json.corrupt-2025-10-20T00-00-00-000Z']);
      expect(await readFile(join(f.dir, aside[0] as string))).toEqual(bytes);
      expect(f.logger.lines).toHaveLength(1);
      expect(f.logger.lines[0]).toMatch(
        /^warn: .*queue\.json is corrupt \(.+\); kept it as .*queue\.json\.corrupt-2025-10-20T00-00-00-000Z; restored 1 entries from .*queue\.json\.bak$/,
      );
      // Written back at once, so the runbook's jq works again.
      expect(JSON.parse(await readFile(join(f.dir, 'queue.json'), 'utf8')).files).toHaveLength(1);
    });

    it('without a backup starts empty with one error line and does not crash', async () => {
      const f = await fixture();
      await writeFile(join(f.dir, 'queue.json'), bytes);
      const store = await f.open();
      expect(store.queue.size).toBe(0);
      expect(f.logger.lines).toHaveLength(1);
      expect(f.logger.lines[0]).toMatch(/^error: .*queue\.json is corrupt .*; no backup .* starting empty$/);
      expect((await readdir(f.dir)).some((n) => n.startsWith('queue.json.corrupt-'))).toBe(true);
      await store.queue.add({ filepath: '/new' });
      expect(JSON.parse(await readFile(join(f.dir, 'queue.json'), 'utf8')).files).toHaveLength(1);
    });
  });

  it.each([
    ['failed.json', '{"version":2,"files":[{"filepath":"/f","category":"c","message":"m"}'],
    ['processed_files.json', '{"files": {"/r::1::1": {"filepath":"/r","size":1,"mtimeMs":1000,'],
  ])('recovers a corrupt %s from its backup', async (name, truncated) => {
    const f = await fixture();
    const first = await f.open();
    await first.failed.add({ filepath: '/f', category: 'c', message: 'm' });
    await first.registry.mark({ filepath: '/r', size: 1, mtimeMs: 1000, key: 'k' });
    await first.close();
    // A second write of each file, so that the first becomes the backup (the registry's snapshot is written when
    // its journal is compacted: at close).
    const again = await f.open();
    await again.failed.add({ filepath: '/g', category: 'c', message: 'm' });
    await again.registry.mark({ filepath: '/s', size: 1, mtimeMs: 1000, key: 'k' });
    await again.close();
    await writeFile(join(f.dir, name), truncated);
    const second = await f.open();
    expect(second.failed.has('/f')).toBe(true);
    expect(second.registry.has({ filepath: '/r', size: 1, mtimeMs: 1000 })).toBe(true);
    expect(f.logger.lines.filter((l) => l.includes(`${name} is corrupt`))).toHaveLength(1);
  });

  it('starts empty with an error line when both the file and its backup are corrupt', async () => {
    const f = await fixture();
    await writeFile(join(f.dir, 'queue.json'), '{"files": [');
    await writeFile(join(f.dir, 'queue.json.bak'), 'garbage');
    const store = await f.open();
    expect(store.queue.size).toBe(0);
    expect(f.logger.lines).toEqual([
      expect.stringMatching(/^error: .*queue\.json\.bak is corrupt too .*starting empty$/),
    ]);
  });

  it('restores a missing queue.json from its backup', async () => {
    const f = await fixture();
    await writeFile(join(f.dir, 'queue.json.bak'), good(['/kept']));
    const store = await f.open();
    expect(store.queue.has('/kept')).toBe(true);
    expect(f.logger.lines).toEqual([
      expect.stringMatching(/^warn: .*queue\.json is missing; restored 1 entries/),
    ]);
  });

  it('treats valid JSON of the wrong shape as corrupt', async () => {
    const f = await fixture();
    await writeFile(join(f.dir, 'queue.json'), '{"entries": []}');
    await writeFile(join(f.dir, 'queue.json.bak'), good(['/b']));
    const store = await f.open();
    expect(store.queue.has('/b')).toBe(true);
    expect(f.logger.lines[0]).toContain('not a queue file');
  });
});
