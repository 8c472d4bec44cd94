import { randomBytes } from 'node:crypto';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { createUploader, UploadError, utf8PathEncoding, type PathEncoding } from '../src/index.js';
import { MiB, readObject, useServers } from './helpers.js';

const env = useServers();

// A test encoding: Latin-1 maps every byte to one character and back, so any name has an exact string form.
const latin1: PathEncoding = {
  toFs: (path) => Buffer.from(path, 'latin1'),
  fromFs: (bytes) => bytes.toString('latin1'),
};

// A directory and a file named in GBK (日志) and Latin-1 (café): neither is valid UTF-8.
const GBK_DIR = Buffer.from([0xc8, 0xd5, 0xd6, 0xbe]);
const LATIN1_FILE = Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x2e, 0x6c, 0x6f, 0x67]);

describe('createUploader({ pathEncoding }).upload', () => {
  const bytesOf = (...names: Buffer[]) =>
    Buffer.concat([Buffer.from(env.dir), ...names.flatMap((name) => [Buffer.from('/'), name])]);

  it.each([
    ['a single-request file', 4096],
    ['a multipart file', 9 * MiB],
  ])('reads a file whose path is not valid UTF-8 through the encoding (%s)', async (what, size) => {
    await mkdir(bytesOf(GBK_DIR), { recursive: true });
    const file = bytesOf(GBK_DIR, Buffer.concat([Buffer.from(`${size}-`), LATIN1_FILE]));
    const data = randomBytes(size);
    await writeFile(file, data);
    const uploader = createUploader({ client: env.s3.client(), bucket: env.s3.bucket, pathEncoding: latin1 });

    const result = await uploader.upload({ filePath: latin1.fromFs(file), key: `names/${size}.log` });

    expect(result.bytes).toBe(size);
    expect((await readObject(env.s3.client(), env.s3.bucket, `names/${size}.log`)).equals(data)).toBe(true);
  });

  it('still refuses a symlinked directory on the way to such a file', async () => {
    const outside = bytesOf(Buffer.from('outside'), GBK_DIR);
    await mkdir(outside, { recursive: true });
    await writeFile(Buffer.concat([outside, Buffer.from('/'), LATIN1_FILE]), 'secret');
    await mkdir(bytesOf(Buffer.from('logs')), { recursive: true });
    await symlink(outside, bytesOf(Buffer.from('logs'), GBK_DIR));
    const uploader = createUploader({ client: env.s3.client(), bucket: env.s3.bucket, pathEncoding: latin1 });

    const filePath = latin1.fromFs(bytesOf(Buffer.from('logs'), GBK_DIR, LATIN1_FILE));
    const error = await uploader.upload({ filePath, key: 'names/escape.log' }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(UploadError);
    expect((error as UploadError).classification).toMatchObject({ code: 'ELOOP' });
  });

  it('fails as file-unreadable when the encoding refuses the path', async () => {
    const refusing: PathEncoding = {
      toFs: () => {
        throw Object.assign(new Error('no bytes for this name'), { code: 'EILSEQ' });
      },
      fromFs: utf8PathEncoding.fromFs,
    };
    await writeFile(`${env.dir}/any.log`, 'readable by its UTF-8 name');
    const uploader = createUploader({
      client: env.s3.client(),
      bucket: env.s3.bucket,
      pathEncoding: refusing,
    });
    const error = await uploader
      .upload({ filePath: `${env.dir}/any.log`, key: 'names/refused.log' })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'file-unreadable' });
  });

  it('rejects an encoding without both functions', () => {
    expect(() =>
      createUploader({
        client: env.s3.client(),
        bucket: env.s3.bucket,
        pathEncoding: { toFs: (p: string) => p } as unknown as PathEncoding,
      }),
    ).toThrow(/Expected `pathEncoding` to be an object with toFs and fromFs functions/);
  });
});
