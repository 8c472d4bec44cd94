import { createHash } from 'node:crypto';
import { appendFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { createUploader, UploadError, type MultipartState } from '../src/index.js';
import { MiB, randomFile, readObject, useServers } from './helpers.js';

const env = useServers({ shim: true });

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

describe('createUploader().upload', () => {
  it.each([
    ['when_required', 'small.log', 100 * 1024],
    ['when_supported', 'small-supported.log', 100 * 1024],
    ['when_required', 'empty.log', 0],
  ] as const)('uploads a single-request file byte for byte (%s, %s)', async (checksumMode, name, size) => {
    const { path, data } = await randomFile(env.dir, name, size);
    const uploader = createUploader({ client: env.s3.client(), bucket: env.s3.bucket, checksumMode });
    const key = `v1/2025-10-20/ros/${name}`;
    const result = await uploader.upload({ filePath: path, key });
    expect(result).toEqual({
      key,
      bytes: size,
      etag: expect.any(String),
      sha256: sha256(data),
      identity: expect.objectContaining({ size }),
    });
    expect((await readObject(env.s3.client(), env.s3.bucket, key)).equals(data)).toBe(true);
  });

  it('keeps a unicode key with spaces exactly', async () => {
    const { path, data } = await randomFile(env.dir, 'unicode.log', 2048);
    const key = 'vehicle-CN-001/2025-10-20/terminal/日志 文件 #1+plus (copy).log';
    const uploader = createUploader({ client: env.s3.client(), bucket: env.s3.bucket });
    await uploader.upload({ filePath: path, key });
    expect((await readObject(env.s3.client(), env.s3.bucket, key)).equals(data)).toBe(true);
  });

  it.each([5 * MiB - 1, 5 * MiB, 5 * MiB + 1, 10 * MiB + 3])(
    'splits a file of %i bytes at the 5 MiB boundary and reassembles it exactly',
    async (size) => {
      const { path, data } = await randomFile(env.dir, `boundary-${size}.bin`, size);
      const uploader = createUploader({
        client: env.s3.client(),
        bucket: env.s3.bucket,
        multipartThresholdBytes: 5 * MiB,
        partSizeBytes: 5 * MiB,
      });
      const key = `boundary/${size}.bin`;
      const result = await uploader.upload({ filePath: path, key });
      expect(result.parts).toBe(size < 5 * MiB ? undefined : Math.ceil(size / (5 * MiB)));
      expect((await readObject(env.s3.client(), env.s3.bucket, key)).equals(data)).toBe(true);
    },
  );

  it.each([
    ['when_required', 8],
    ['when_supported', 3],
  ] as const)(
    'uploads in parts, reporting state and progress, and verifies the object (%s, %i parts of 8 MiB)',
    async (checksumMode, parts) => {
      const size = parts * 8 * MiB;
      const { path, data } = await randomFile(env.dir, `big-${checksumMode}.bin`, size);
      const uploader = createUploader({ client: env.s3.client(), bucket: env.s3.bucket, checksumMode });
      const states: Array<MultipartState | undefined> = [];
      const progress: number[] = [];
      const key = `big/${checksumMode}.bin`;
      const result = await uploader.upload({
        filePath: path,
        key,
        onStateChange: (state) => {
          states.push(state);
        },
        onProgress: ({ bytesSent, totalBytes }) => {
          expect(totalBytes).toBe(size);
          progress.push(bytesSent);
        },
      });
      expect(result).toMatchObject({ key, bytes: size, sha256: sha256(data), parts, resumedParts: 0 });
      // Created (0 parts), then one state per part, then undefined once complete.
      const numbers = Array.from({ length: parts }, (_, i) => i + 1);
      expect(states.map((state) => state?.parts.length)).toEqual([0, ...numbers, undefined]);
      expect(states[parts]?.parts.map((part) => part.partNumber)).toEqual(numbers);
      expect(states[parts]?.checksumAlgorithm).toBe(
        checksumMode === 'when_supported' ? 'CRC32' : 'SHA256-PAYLOAD',
      );
      expect(progress.at(-1)).toBe(size);
      expect((await readObject(env.s3.client(), env.s3.bucket, key)).equals(data)).toBe(true);
      const head = await env.s3.client().send(new HeadObjectCommand({ Bucket: env.s3.bucket, Key: key }));
      expect(head.Metadata?.['sha256']).toBe(sha256(data));
    },
  );

  // Through the shim, which answers conditional writes (If-None-Match: *) as S3 does; s3rver ignores them.
  it.each([
    ['a single-request file', 4096, {}],
    ['a multipart file', 6 * MiB, { multipartThresholdBytes: 5 * MiB, partSizeBytes: 5 * MiB }],
  ])(
    'skips %s already present with the same size and SHA-256, and overwrites one of the same size only',
    async (_, size, options) => {
      const { path, data } = await randomFile(env.dir, `dup-${size}.log`, size);
      const uploader = createUploader({
        client: env.s3.client({ endpoint: env.shim.endpoint }),
        bucket: env.s3.bucket,
        ...options,
      });
      const key = `dup/${size}.log`;
      await uploader.upload({ filePath: path, key });
      expect(await uploader.upload({ filePath: path, key })).toMatchObject({
        skipped: 'already-present',
        bytes: size,
      });

      // Same size, different bytes: the old daemon's size-only comparison would have called it uploaded.
      const other = Buffer.alloc(size, 7);
      await writeFile(path, other);
      const again = await uploader.upload({ filePath: path, key });
      expect(again.skipped).toBeUndefined();
      expect((await readObject(env.s3.client(), env.s3.bucket, key)).equals(other)).toBe(true);
      expect(data.equals(other)).toBe(false);
    },
  );

  it('overwrites an object of the same size that has no SHA-256 metadata', async () => {
    const { path, data } = await randomFile(env.dir, 'nometa.log', 1000);
    const key = 'dup/nometa.log';
    await env.s3
      .client()
      .send(new PutObjectCommand({ Bucket: env.s3.bucket, Key: key, Body: Buffer.alloc(1000) }));
    const result = await createUploader({ client: env.s3.client(), bucket: env.s3.bucket }).upload({
      filePath: path,
      key,
    });
    expect(result.skipped).toBeUndefined();
    expect((await readObject(env.s3.client(), env.s3.bucket, key)).equals(data)).toBe(true);
  });

  it('rejects a file appended to while it uploads with file-changed and does not complete the upload', async () => {
    const { path } = await randomFile(env.dir, 'growing.log', 24 * MiB);
    const uploader = createUploader({ client: env.s3.client(), bucket: env.s3.bucket, concurrency: 1 });
    const key = 'growing/growing.log';
    const states: Array<MultipartState | undefined> = [];
    const error = await uploader
      .upload({
        filePath: path,
        key,
        onStateChange: async (state) => {
          states.push(state);
          if (state?.parts.length === 1) await appendFile(path, 'one more line\n');
        },
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UploadError);
    expect(error).toMatchObject({
      code: 'file-changed',
      key,
      classification: { kind: 'temporary', scope: 'file' },
    });
    expect(states.at(-1)).toBeUndefined();
    const head = await env.s3
      .client()
      .send(new HeadObjectCommand({ Bucket: env.s3.bucket, Key: key }))
      .catch((e: unknown) => e);
    expect(head).toMatchObject({ $metadata: { httpStatusCode: 404 } });
  });

  it('rejects an invalid key before reading the file', async () => {
    const uploader = createUploader({ client: env.s3.client(), bucket: env.s3.bucket });
    const error = await uploader
      .upload({ filePath: join(env.dir, 'small.log'), key: 'bad\u0001key' })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'invalid-object',
      classification: { category: 'invalid-object-key' },
    });
  });

  it('classifies a missing file as a permanent file-not-found', async () => {
    const uploader = createUploader({ client: env.s3.client(), bucket: env.s3.bucket });
    const missing = join(env.dir, 'gone.log');
    const error = await uploader.upload({ filePath: missing, key: 'gone.log' }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      name: 'UploadError',
      code: 'file-unreadable',
      classification: {
        kind: 'permanent',
        category: 'file-not-found',
        message: `File not found: ${missing}`,
      },
    });
  });

  it('classifies a missing bucket as bucket-not-found', async () => {
    const { path } = await randomFile(env.dir, 'nobucket.log', 10);
    const uploader = createUploader({ client: env.s3.client(), bucket: 'no-such-bucket' });
    const error = await uploader.upload({ filePath: path, key: 'x.log' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'request-failed', classification: { category: 'bucket-not-found' } });
    await expect(uploader.checkDestination()).rejects.toMatchObject({
      classification: { category: 'bucket-not-found', kind: 'permanent' },
    });
    await expect(
      createUploader({ client: env.s3.client(), bucket: env.s3.bucket }).checkDestination(),
    ).resolves.toBeUndefined();
  });

  it('classifies a wrong access key as invalid-credentials', async () => {
    const { path } = await randomFile(env.dir, 'creds.log', 10);
    const client = env.s3.client({ credentials: { accessKeyId: 'WRONG', secretAccessKey: 'x' } });
    const error = await createUploader({ client, bucket: env.s3.bucket })
      .upload({ filePath: path, key: 'creds.log' })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ classification: { category: 'invalid-credentials', kind: 'permanent' } });
    // HeadBucket's bare 403 would only say "access denied"; the check asks again to learn the real reason.
    await expect(createUploader({ client, bucket: env.s3.bucket }).checkDestination()).rejects.toMatchObject({
      operation: 'HeadBucket',
      classification: { category: 'invalid-credentials', code: 'InvalidAccessKeyId' },
    });
  });

  it('rejects with aborted when the signal fires, keeping the state for resume', async () => {
    const { path } = await randomFile(env.dir, 'cancel.bin', 24 * MiB);
    const controller = new AbortController();
    const states: Array<MultipartState | undefined> = [];
    const error = await createUploader({ client: env.s3.client(), bucket: env.s3.bucket, concurrency: 1 })
      .upload({
        filePath: path,
        key: 'cancel.bin',
        signal: controller.signal,
        onStateChange: (state) => {
          states.push(state);
          if (state?.parts.length === 1) controller.abort();
        },
      })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'aborted', classification: { category: 'aborted' } });
    expect(states.at(-1)?.parts.length).toBe(1);
  });
});

describe('createUploader().uploadStream', () => {
  async function* chunks(data: Buffer, size: number): AsyncGenerator<Buffer> {
    for (let offset = 0; offset < data.length; offset += size) yield data.subarray(offset, offset + size);
  }

  it.each([
    [1000, 'when_required'],
    [20 * MiB + 5, 'when_required'],
    [20 * MiB + 5, 'when_supported'],
  ] as const)(
    'uploads a stream of unknown length (%i bytes, %s) and verifies its size',
    async (size, checksumMode) => {
      const { data } = await randomFile(env.dir, `stream-${size}-${checksumMode}.bin`, size);
      const uploader = createUploader({ client: env.s3.client(), bucket: env.s3.bucket, checksumMode });
      const key = `stream/${size}-${checksumMode}.bin`;
      const result = await uploader.uploadStream({ body: chunks(data, 64 * 1024), key });
      expect(result).toMatchObject({ key, bytes: size, sha256: sha256(data) });
      expect((await readObject(env.s3.client(), env.s3.bucket, key)).equals(data)).toBe(true);
    },
  );

  it('rejects with the classified error of a failing source stream', async () => {
    async function* failing(): AsyncGenerator<Buffer> {
      yield Buffer.alloc(1024);
      throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
    }
    const uploader = createUploader({ client: env.s3.client(), bucket: env.s3.bucket });
    await expect(uploader.uploadStream({ body: failing(), key: 'stream/failing.bin' })).rejects.toMatchObject(
      {
        name: 'UploadError',
        classification: { category: 'disk-read-error' },
      },
    );
  });
});

describe('createUploader', () => {
  it.each([
    [{ concurrency: 0 }, 'Expected `concurrency` to be an integer between 1 and 64, got 0'],
    [
      { partSizeBytes: 1024 },
      'Expected `partSizeBytes` to be an integer between 5242880 and 5368709120, got 1024',
    ],
    [
      { bandwidthLimitBytesPerSecond: -1 },
      'Expected `bandwidthLimitBytesPerSecond` to be an integer >= 0, got -1',
    ],
    [
      { checksumMode: 'always' },
      `Expected \`checksumMode\` to be 'when_supported' or 'when_required', got "always"`,
    ],
    [{ bucket: '' }, 'Expected `bucket` to be a non-empty string, got ""'],
  ])('throws a TypeError naming an invalid option %j', (override, message) => {
    expect(() => createUploader({ client: env.s3.client(), bucket: 'b', ...override } as never)).toThrow(
      new TypeError(message),
    );
  });
});
