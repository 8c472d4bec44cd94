import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readStateSnapshot } from '../src/index.js';
import { fixture, readJson } from './helpers.js';

const DAY = 86_400_000;

describe('ProcessedRegistry', () => {
  it('records an upload by path, size and mtime, with the key and upload time, across a reopen', async () => {
    const f = await fixture();
    const store = await f.open();
    const identity = { filepath: '/logs/a.log', size: 100, mtimeMs: 1_760_000_000_123.456 };
    await store.registry.mark({ ...identity, key: 'v1/2025-10-09/ros/a.log' });
    await store.close();
    const reopened = await f.open();
    expect(reopened.registry.has(identity)).toBe(true);
    expect(reopened.registry.get(identity)).toMatchObject({
      key: 'v1/2025-10-09/ros/a.log',
      uploadedAt: f.clock.now(),
    });
    expect(reopened.registry.has({ ...identity, size: 101 })).toBe(false);
    expect(reopened.registry.has({ ...identity, mtimeMs: identity.mtimeMs + 1000 })).toBe(false);
    const file = await readJson(join(f.dir, 'processed_files.json'));
    expect(Object.keys(file.files)).toEqual(['/logs/a.log::100::1760000000.123456']);
  });

  it('recognises a renamed file by device and inode', async () => {
    const f = await fixture();
    const store = await f.open();
    await store.registry.mark({
      filepath: '/var/log/syslog',
      size: 5,
      mtimeMs: 1000,
      dev: 2049,
      ino: 77,
      key: 'k',
    });
    expect(
      store.registry.has({ filepath: '/var/log/syslog.1', size: 5, mtimeMs: 1000, dev: 2049, ino: 77 }),
    ).toBe(true);
    expect(store.registry.has({ filepath: '/var/log/syslog.1', size: 5, mtimeMs: 1000 })).toBe(false);
    expect(
      store.registry.has({ filepath: '/var/log/syslog.1', size: 6, mtimeMs: 1000, dev: 2049, ino: 77 }),
    ).toBe(false);
  });

  it('rejects a mark without a key or identity as INVALID_ENTRY', async () => {
    const f = await fixture();
    const store = await f.open();
    await expect(store.registry.mark({ filepath: '/a', size: 1, mtimeMs: 1 } as never)).rejects.toMatchObject(
      {
        code: 'INVALID_ENTRY',
      },
    );
    await expect(
      store.registry.mark({ filepath: '/a', size: 'x', mtimeMs: 1, key: 'k' } as never),
    ).rejects.toMatchObject({ code: 'INVALID_ENTRY' });
    expect(() => store.registry.has({ filepath: 3 } as never)).toThrow('Invalid file identity');
  });

  it('prunes records older than the retention, on demand and while running', async () => {
    const f = await fixture();
    const store = await f.open({ registryRetentionDays: 30, pruneIntervalMs: 3_600_000 });
    await store.registry.mark({ filepath: '/old', size: 1, mtimeMs: 1, key: 'k1' });
    await f.clock.advance(20 * DAY);
    await store.registry.mark({ filepath: '/newer', size: 1, mtimeMs: 1, key: 'k2' });
    await f.clock.advance(11 * DAY);
    await expect(store.registry.prune()).resolves.toBe(1);
    expect(store.registry.list().map((e) => e.filepath)).toEqual(['/newer']);
    // While running, without anybody calling prune(): a mark an hour later prunes too.
    await f.clock.advance(20 * DAY);
    await store.registry.mark({ filepath: '/latest', size: 1, mtimeMs: 1, key: 'k3' });
    expect(store.registry.list().map((e) => e.filepath)).toEqual(['/latest']);
    // The CLI's reader replays the journal over the snapshot; the snapshot itself is written at close.
    const snapshot = await readStateSnapshot({ directory: f.dir, clock: f.clock });
    expect(snapshot.registry.map((e) => e.filepath)).toEqual(['/latest']);
    await store.close();
    const file = await readJson(join(f.dir, 'processed_files.json'));
    expect(Object.values(file.files).map((e) => (e as { filepath: string }).filepath)).toEqual(['/latest']);
  });

  it('prunes at open', async () => {
    const f = await fixture();
    const first = await f.open({ registryRetentionDays: 7 });
    await first.registry.mark({ filepath: '/a', size: 1, mtimeMs: 1, key: 'k' });
    await first.close();
    await f.clock.advance(8 * DAY);
    const second = await f.open({ registryRetentionDays: 7 });
    expect(second.registry.size).toBe(0);
  });

  it('validates its options', async () => {
    const f = await fixture();
    await expect(f.open({ registryRetentionDays: -1 })).rejects.toThrow(
      'Expected `registryRetentionDays` to be a non-negative number, got -1',
    );
  });
});
