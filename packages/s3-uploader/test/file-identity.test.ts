import { lstat, mkdir, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { createUploader, UploadError } from '../src/index.js';
import { MiB, randomFile, readObject, useServers } from './helpers.js';

const env = useServers({ shim: true });

const shimClient = () => env.s3.client({ endpoint: env.shim.endpoint });

async function identityAt(path: string) {
  const stats = await lstat(path);
  return { dev: stats.dev, ino: stats.ino, size: stats.size, mtimeMs: stats.mtimeMs };
}

async function objectExists(key: string): Promise<boolean> {
  const head = await env.s3
    .client()
    .send(new HeadObjectCommand({ Bucket: env.s3.bucket, Key: key }))
    .then(
      () => 200,
      (e: { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode,
    );
  return head === 200;
}

describe('UploadResult.identity', () => {
  it.each([
    ['a single-request file', 64 * 1024],
    ['a multipart file', 11 * MiB],
  ])('names the exact file version that was verified (%s)', async (what, size) => {
    const { path } = await randomFile(env.dir, `identity-${size}.bin`, size);
    const uploader = createUploader({ client: shimClient(), bucket: env.s3.bucket });
    const result = await uploader.upload({ filePath: path, key: `identity/${size}.bin` });
    expect(result.identity).toEqual(await identityAt(path));
  });

  it('names the version already in S3 when the upload is skipped', async () => {
    const { path } = await randomFile(env.dir, 'identity-skip.bin', 4096);
    const uploader = createUploader({ client: shimClient(), bucket: env.s3.bucket });
    await uploader.upload({ filePath: path, key: 'identity/skip.bin' });
    const again = await uploader.upload({ filePath: path, key: 'identity/skip.bin' });
    expect(again.skipped).toBe('already-present');
    expect(again.identity).toEqual(await identityAt(path));
  });

  it('is the version read when the file is rotated away mid-upload, not the new file at the path', async () => {
    const { path, data } = await randomFile(env.dir, 'rotating.log', 24 * MiB);
    const original = await identityAt(path);
    const uploader = createUploader({ client: shimClient(), bucket: env.s3.bucket, concurrency: 1 });
    let rotated = false;
    const result = await uploader.upload({
      filePath: path,
      key: 'identity/rotating.log',
      onStateChange: async (state) => {
        if (rotated || state?.parts.length !== 1) return;
        rotated = true;
        // logrotate's default: rename the file, then start a new one at the same path.
        await rename(path, `${path}.1`);
        await writeFile(path, 'a new log\n');
      },
    });
    expect(rotated).toBe(true);
    expect(result.identity).toEqual(original);
    expect(result.identity.ino).not.toBe((await identityAt(path)).ino);
    expect((await readObject(env.s3.client(), env.s3.bucket, 'identity/rotating.log')).equals(data)).toBe(
      true,
    );
  });
});

describe('createUploader().upload with symlinks', () => {
  const refused = {
    code: 'file-unreadable',
    classification: { kind: 'permanent', scope: 'file', category: 'disk-read-error', code: 'ELOOP' },
  };

  it('refuses a file that is a symlink, and sends nothing', async () => {
    const { path: target } = await randomFile(env.dir, 'secret.txt', 100);
    const link = join(env.dir, 'link.log');
    await symlink(target, link);
    const uploader = createUploader({ client: shimClient(), bucket: env.s3.bucket });
    const error = await uploader.upload({ filePath: link, key: 'symlink/file.log' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UploadError);
    expect(error).toMatchObject(refused);
    expect((error as Error).message).toContain(link);
    expect(await objectExists('symlink/file.log')).toBe(false);
  });

  it('refuses a file reached through a symlinked directory, and sends nothing', async () => {
    const outside = join(env.dir, 'outside');
    await mkdir(outside);
    await randomFile(outside, 'hostname', 100);
    const logs = join(env.dir, 'logs');
    await mkdir(logs);
    await symlink(outside, join(logs, 'sub'));
    const uploader = createUploader({ client: shimClient(), bucket: env.s3.bucket });
    const filePath = join(logs, 'sub', 'hostname');
    const error = await uploader.upload({ filePath, key: 'symlink/dir.log' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UploadError);
    expect(error).toMatchObject(refused);
    expect((error as Error).message).toMatch(/symbolic link/);
    expect(await objectExists('symlink/dir.log')).toBe(false);
  });

  it('refuses a symlinked component higher up the path', async () => {
    const real = join(env.dir, 'real-root');
    await mkdir(join(real, 'terminal'), { recursive: true });
    await randomFile(join(real, 'terminal'), 'a.log', 100);
    await symlink(real, join(env.dir, 'linked-root'));
    const uploader = createUploader({ client: shimClient(), bucket: env.s3.bucket });
    const filePath = join(env.dir, 'linked-root', 'terminal', 'a.log');
    await expect(uploader.upload({ filePath, key: 'symlink/high.log' })).rejects.toMatchObject(refused);
    // The same file by its real path uploads.
    await expect(
      uploader.upload({ filePath: join(real, 'terminal', 'a.log'), key: 'symlink/high.log' }),
    ).resolves.toMatchObject({ bytes: 100 });
  });

  it('uploads a path with `..` by what it names once normalised', async () => {
    const { path, data } = await randomFile(env.dir, 'dots.log', 100);
    await mkdir(join(env.dir, 'a'), { recursive: true });
    const uploader = createUploader({ client: shimClient(), bucket: env.s3.bucket });
    const filePath = join(env.dir, 'a') + '/../dots.log';
    const result = await uploader.upload({ filePath, key: 'symlink/dots.log' });
    expect(result.identity).toEqual(await identityAt(path));
    expect((await readObject(env.s3.client(), env.s3.bucket, 'symlink/dots.log')).equals(data)).toBe(true);
  });
});
