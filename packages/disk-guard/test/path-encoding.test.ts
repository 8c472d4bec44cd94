import { existsSync, statSync } from 'node:fs';
import { mkdir, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDiskGuard, utf8PathEncoding, type PathEncoding } from '../src/index.js';
import { DAY, recordingLogger, tempTree } from './helpers.js';

// A test encoding: Latin-1 maps every byte to one character and back, so any name has an exact string form.
const latin1: PathEncoding = {
  toFs: (path) => Buffer.from(path, 'latin1'),
  fromFs: (bytes) => bytes.toString('latin1'),
};

// 日志 in GBK, and é in Latin-1: neither is valid UTF-8.
const GBK_NAME = Buffer.from([0xc8, 0xd5, 0xd6, 0xbe, 0x2e, 0x6c, 0x6f, 0x67]); // "\xC8\xD5\xD6\xBE.log"
const LATIN1_NAME = Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x2e, 0x6c, 0x6f, 0x67]); // "caf\xE9.log"

describe('createDiskGuard pathEncoding', () => {
  let root: string;
  let cleanup: () => Promise<void>;
  let logs: string;
  const bytesOf = (name: Buffer) => Buffer.concat([Buffer.from(`${logs}/`), name]);
  const pathOf = (name: Buffer) => latin1.fromFs(bytesOf(name));

  beforeEach(async () => {
    ({ root, cleanup } = await tempTree());
    logs = join(root, 'logs');
    await mkdir(logs);
    for (const name of [GBK_NAME, LATIN1_NAME]) await writeFile(bytesOf(name), 'uploaded bytes');
    // What Node's string APIs make of the GBK name (U+FFFD for each bad byte), as a real file beside it.
    await writeFile(join(logs, GBK_NAME.toString('utf8')), 'a different file');
  });
  afterEach(async () => cleanup());

  const guardFor = (pathEncoding?: PathEncoding) =>
    createDiskGuard({
      directories: [{ path: logs, source: 'ros' }],
      afterUpload: { keepDays: 0 },
      logger: recordingLogger(),
      ...(pathEncoding ? { pathEncoding } : {}),
    });

  it('deletes uploaded files whose names are not valid UTF-8, and only them', async () => {
    const guard = guardFor(latin1);
    const now = Date.now();
    const candidates = [GBK_NAME, LATIN1_NAME].map((name) => {
      const stats = statSync(bytesOf(name));
      return {
        path: pathOf(name),
        size: stats.size,
        mtimeMs: stats.mtimeMs,
        uploadedAt: now - DAY,
        pending: false,
      };
    });
    expect(await guard.checkDeletable(pathOf(GBK_NAME))).toEqual({
      ok: true,
      realPath: pathOf(GBK_NAME),
      size: 14,
      source: 'ros',
    });

    const result = await guard.apply(await guard.plan({ candidates, policies: ['after-upload'] }));

    expect(result.deleted.map((file) => file.path)).toEqual(candidates.map((c) => c.path));
    expect(result.refused).toEqual([]);
    expect(existsSync(bytesOf(GBK_NAME))).toBe(false);
    expect(existsSync(bytesOf(LATIN1_NAME))).toBe(false);
    expect(existsSync(join(logs, GBK_NAME.toString('utf8')))).toBe(true);
  });

  it('sees a writer of such a file in the /proc scan', async () => {
    const guard = guardFor(latin1);
    const writer = await open(bytesOf(GBK_NAME), 'a');
    try {
      expect(await guard.checkDeletable(pathOf(GBK_NAME))).toMatchObject({
        ok: false,
        code: 'open-for-writing',
      });
    } finally {
      await writer.close();
    }
    expect(await guard.checkDeletable(pathOf(GBK_NAME))).toMatchObject({ ok: true });
  });

  it('refuses a path the encoding cannot express instead of deleting another file', async () => {
    const strict: PathEncoding = {
      toFs: (path) => {
        if (path.includes('\uFFFD'))
          throw Object.assign(new Error('no bytes for U+FFFD'), { code: 'EILSEQ' });
        return path;
      },
      fromFs: utf8PathEncoding.fromFs,
    };
    expect(await guardFor(strict).checkDeletable(join(logs, GBK_NAME.toString('utf8')))).toMatchObject({
      ok: false,
      code: 'stat-failed',
    });
    expect(existsSync(join(logs, GBK_NAME.toString('utf8')))).toBe(true);
  });

  it("uses Node's UTF-8 strings by default", async () => {
    expect(await guardFor().checkDeletable(join(logs, 'caf\u00e9.log'))).toMatchObject({
      ok: false,
      code: 'not-found',
    });
  });

  it('rejects an encoding without both functions', () => {
    expect(() =>
      createDiskGuard({
        directories: [],
        pathEncoding: { toFs: (p: string) => p } as unknown as PathEncoding,
      }),
    ).toThrow(/Expected `pathEncoding` to be an object with toFs and fromFs functions/);
  });
});
