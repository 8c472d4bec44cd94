import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { QueueError } from '../src/index.js';
import { fixture, spawnFixture, waitForLine } from './helpers.js';

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  await once(child, 'exit');
  return child.pid as number;
}

describe('openStateStore locking', () => {
  it('refuses a second opener with LOCKED, naming the holder pid', async () => {
    const f = await fixture();
    await f.open();
    const error: unknown = await f.open().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueueError);
    expect(error).toMatchObject({ code: 'LOCKED', holderPid: process.pid });
    expect((error as Error).message).toContain(`pid ${process.pid}`);
  });

  it('refuses while another live process holds the directory', async () => {
    const f = await fixture();
    const child = spawnFixture('hold-lock.ts', [f.dir]);
    try {
      const line = await waitForLine(child, /^LOCKED \d+$/);
      const pid = Number(line.split(' ')[1]);
      await expect(f.open()).rejects.toMatchObject({ code: 'LOCKED', holderPid: pid });
      await expect(f.open()).rejects.toThrow(`pid ${pid}`);
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    // Killed without closing: its lock is stale now.
    const store = await f.open();
    expect(store.queue.size).toBe(0);
    expect(f.logger.lines).toEqual([
      expect.stringMatching(/^warn: Took over a stale lock .*tvm-upload\.lock \(pid \d+ is not running/),
    ]);
  });

  it('releases the lock on close', async () => {
    const f = await fixture();
    const first = await f.open();
    await first.close();
    await expect(f.open()).resolves.toBeDefined();
  });

  it.each([
    ['a dead pid', async () => JSON.stringify({ pid: await deadPid() }), /pid \d+ is not running/],
    ['a bare dead pid', async () => String(await deadPid()), /pid \d+ is not running/],
    [
      'a previous boot',
      async () => JSON.stringify({ pid: process.ppid, bootId: '00000000-dead-beef-0000-000000000000' }),
      /left from before a reboot/,
    ],
    [
      'a reused pid',
      async () => JSON.stringify({ pid: process.ppid, startTicks: 1 }),
      /now belongs to another process/,
    ],
    ['garbage', async () => 'garbage', /unreadable lock file/],
  ])('takes over a stale lock left by %s', async (_label, content, reason) => {
    const f = await fixture();
    await writeFile(join(f.dir, 'tvm-upload.lock'), await content());
    const store = await f.open();
    expect(f.logger.lines).toEqual([expect.stringMatching(reason)]);
    const lock = JSON.parse(await readFile(join(f.dir, 'tvm-upload.lock'), 'utf8'));
    expect(lock.pid).toBe(process.pid);
    await store.close();
  });
});
