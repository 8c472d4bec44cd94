import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture, readJson } from './helpers.js';

const jq = (filter: string, file: string) =>
  execFileSync('jq', ['-c', filter, file], { encoding: 'utf8' }).trim();

describe("openStateStore with the old daemon's files", () => {
  it('loads a bare-array queue, keeps its entries and rewrites it with a `files` array the runbook reads', async () => {
    const f = await fixture();
    const old = [
      {
        filepath: '/home/u/.ros/log/run/launch.log',
        size: 104857600,
        detected_at: '2025-10-14T15:30:00.123456',
        attempts: 0,
      },
      {
        filepath: '/home/u/.parcel/log/terminal/t.log',
        size: 10,
        detected_at: '2025-10-14T15:31:00',
        attempts: 2,
      },
    ];
    await writeFile(join(f.dir, 'queue.json'), JSON.stringify(old));
    const store = await f.open();
    expect(store.queue.list()).toEqual([
      {
        filepath: '/home/u/.ros/log/run/launch.log',
        size: 104857600,
        detectedAt: new Date(2025, 9, 14, 15, 30, 0, 123).getTime(),
        attempts: 0,
        nextAttemptAt: 0,
      },
      expect.objectContaining({ filepath: '/home/u/.parcel/log/terminal/t.log', attempts: 2 }),
    ]);
    const file = join(f.dir, 'queue.json');
    expect(jq('.files | length', file)).toBe('2');
    expect(jq('[.files[].filepath]', file)).toBe(JSON.stringify(old.map((e) => e.filepath)));
    // The old file survives as the backup.
    expect(JSON.parse(await readFile(`${file}.bak`, 'utf8'))).toEqual(old);
  });

  it('gives defaults to an entry added by hand with only `filepath`, and keeps them stable', async () => {
    const f = await fixture();
    const first = await f.open();
    await first.queue.add({ filepath: '/a', size: 1 });
    await first.close();
    const file = join(f.dir, 'queue.json');
    const doc = await readJson(file);
    doc.files.push({ filepath: '/var/log/by-hand.log' });
    await writeFile(file, JSON.stringify(doc, null, 2));
    const second = await f.open();
    const added = second.queue.get('/var/log/by-hand.log');
    expect(added).toEqual({
      filepath: '/var/log/by-hand.log',
      detectedAt: f.clock.now(),
      attempts: 0,
      nextAttemptAt: 0,
    });
    expect(second.queue.due().map((e) => e.filepath)).toContain('/var/log/by-hand.log');
    await second.close();
    await f.clock.advance(60_000);
    const third = await f.open();
    expect(third.queue.get('/var/log/by-hand.log')?.detectedAt).toBe(added?.detectedAt);
  });

  it('skips invalid entries and duplicates with one log line, and keeps unknown fields', async () => {
    const f = await fixture();
    await writeFile(
      join(f.dir, 'queue.json'),
      JSON.stringify({
        files: [
          { filepath: '/a', vehicle_note: 'keep me' },
          { size: 3 },
          { filepath: 17 },
          'not an entry',
          { filepath: '/a', size: 99 },
          { filepath: '/b', size: 'big' },
        ],
      }),
    );
    const store = await f.open();
    expect(store.queue.list().map((e) => e.filepath)).toEqual(['/a', '/b']);
    expect(store.queue.get('/a')?.['vehicle_note']).toBe('keep me');
    expect(store.queue.get('/b')).not.toHaveProperty('size');
    const warnings = f.logger.lines.filter((l) => l.startsWith('warn:'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /^warn: queue\.json: 5 problem\(s\) while loading: queue entry at index 1 skipped/,
    );
    expect((await readJson(join(f.dir, 'queue.json'))).files[0].vehicle_note).toBe('keep me');
  });

  it('loads the old registry shape and recognises its files by identity', async () => {
    const f = await fixture();
    const mtime = 1760455800.123456;
    await writeFile(
      join(f.dir, 'processed_files.json'),
      JSON.stringify({
        _metadata: { version: '1.0', last_updated: '2025-10-14T15:40:00' },
        files: {
          [`/home/u/.ros/log/a.log::2048::${mtime}`]: {
            processed_at: 1760456000.5,
            size: 2048,
            mtime,
            filepath: '/home/u/.ros/log/a.log',
            filename: 'a.log',
          },
          '/home/u/b.log::10::1760455000': {
            processed_at: '2025-10-14T15:45:00',
            size: 10,
            mtime: 1760455000,
          },
        },
      }),
    );
    const f2 = f;
    const store = await f2.open({ registryRetentionDays: 100_000 });
    const a = store.registry.get({ filepath: '/home/u/.ros/log/a.log', size: 2048, mtimeMs: mtime * 1000 });
    expect(a).toMatchObject({ uploadedAt: 1760456000500, filename: 'a.log' });
    expect(a).not.toHaveProperty('processed_at');
    const b = store.registry.get({ filepath: '/home/u/b.log', size: 10, mtimeMs: 1760455000000 });
    expect(b?.uploadedAt).toBe(new Date(2025, 9, 14, 15, 45).getTime());
    const file = await readJson(join(f.dir, 'processed_files.json'));
    expect(file.version).toBe(2);
    expect(Object.keys(file.files)).toHaveLength(2);
  });
});
