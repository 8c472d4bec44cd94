// The digests of one upload: CRC32 arithmetic against zlib, the one read ahead, and what each request carries to
// s3rver through the real SDK (recorded by a middleware after signing, as the server receives it).
import { createHash, randomBytes } from 'node:crypto';
import { open, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { digestFile } from '../src/adapters/file.js';
import { crc32Base64, crc32Combine, crc32FromBase64 } from '../src/checksums.js';
import { createUploader, type ChecksumMode } from '../src/index.js';
import { MiB, randomFile, readObject, useServers } from './helpers.js';

const env = useServers();

describe('CRC32 arithmetic', () => {
  it('combines two CRC32s into the CRC32 of the concatenation, as zlib computes it', () => {
    const data = randomBytes(300_001);
    for (const split of [0, 1, 2, 4095, 65_536, 150_000, 299_999, 300_000, 300_001]) {
      const a = data.subarray(0, split);
      const b = data.subarray(split);
      expect(crc32Combine(zlibCrc32(a), zlibCrc32(b), b.length)).toBe(zlibCrc32(data));
    }
  });

  it('writes a CRC32 as S3 does (base64 of 4 big-endian bytes) and reads it back', () => {
    // CRC32("123456789") = 0xCBF43926, the standard check value.
    expect(crc32Base64(zlibCrc32('123456789'))).toBe(Buffer.from('cbf43926', 'hex').toString('base64'));
    expect(crc32FromBase64(crc32Base64(0xcbf43926))).toBe(0xcbf43926);
    expect(crc32FromBase64('not a crc')).toBeUndefined();
  });
});

describe('digestFile (the one read ahead)', () => {
  it.each([
    ['whole-MiB parts', 5 * MiB, 12 * MiB + 7],
    ['parts that are not whole MiB, ending inside a read chunk', 5 * MiB + 1, 11 * MiB],
    ['a file of exactly two parts', 5 * MiB, 10 * MiB],
    ['a file smaller than one read chunk', 5 * MiB, 1000],
    ['an empty file', 5 * MiB, 0],
  ])('yields the SHA-256, the CRC32 of every part and of the file (%s)', async (_name, partSize, size) => {
    const { path, data } = await randomFile(env.dir, `digest-${partSize}-${size}.bin`, size);
    const handle = await open(path);
    try {
      const digests = await digestFile(handle, size, partSize);
      expect(digests.sha256).toBe(createHash('sha256').update(data).digest('hex'));
      const parts = [];
      for (let start = 0; start < size; start += partSize) {
        parts.push(zlibCrc32(data.subarray(start, start + partSize)));
      }
      expect(digests.partCrc32s).toEqual(parts);
      expect(digests.crc32).toBe(zlibCrc32(data));
      expect(await digestFile(handle, size, undefined)).toEqual({ sha256: digests.sha256 });
    } finally {
      await handle.close();
    }
  });

  it('rejects with a short read when the file is shorter than the size it was asked for', async () => {
    const { path } = await randomFile(env.dir, 'digest-short.bin', 5 * MiB);
    const handle = await open(path);
    try {
      await expect(digestFile(handle, 9 * MiB, 5 * MiB)).rejects.toThrow(/the file ended at byte 5242880/);
      // Aborted with the first chunk's read in flight: that read is waited for, so it outlives neither the call
      // nor the handle.
      const aborted = new AbortController();
      aborted.abort(new Error('stopped'));
      await expect(digestFile(handle, 5 * MiB, undefined, aborted.signal)).rejects.toThrow('stopped');
    } finally {
      await handle.close();
    }
  });
});

describe('the HEAD before a multipart upload', () => {
  it('goes while the file is read ahead: a round trip less before CreateMultipartUpload', async () => {
    // Sparse, so it is quick to make; the read ahead still hashes every byte: 512 MiB of SHA-256 takes 200 ms at
    // 2.5 GB/s (about 0.5 s on the project's machine).
    const path = join(env.dir, 'lookup.bin');
    await writeFile(path, '');
    await truncate(path, 512 * MiB);
    const client = env.s3.client();
    const asked: Record<string, number> = {};
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const command = context.commandName ?? '';
        asked[command] ??= performance.now();
        if (command === 'CreateMultipartUploadCommand') throw new Error('stopped before the parts');
        return next(args);
      },
      { step: 'initialize', name: 'timeCommands' },
    );
    // A first request sets the client up (endpoint, credentials, connection), so the HEAD's answer comes at once.
    await client.send(new HeadBucketCommand({ Bucket: env.s3.bucket }));
    const uploader = createUploader({ client, bucket: env.s3.bucket, partSizeBytes: 8 * MiB });
    await expect(uploader.upload({ filePath: path, key: 'lookup.bin' })).rejects.toThrow();
    // Asked after the read ahead, the HEAD would be one quick local round trip before CreateMultipartUpload; asked
    // beside it, it is at least the hashing of 512 MiB before (however slow the HEAD's answer on a busy machine).
    const ahead = (asked.CreateMultipartUploadCommand ?? NaN) - (asked.HeadObjectCommand ?? NaN);
    expect(ahead).toBeGreaterThan(150);
  });
});

interface Sent {
  command: string;
  headers: Record<string, string>;
  partNumber?: number;
}

/** A real client pointed at s3rver that records each request's headers after signing. */
function recordingClient(): { client: S3Client; sent: Sent[] } {
  const client = env.s3.client();
  const sent: Sent[] = [];
  type Args = { request: { headers: Record<string, string> }; input: { PartNumber?: number } };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const { request, input } = args as unknown as Args;
      sent.push({
        command: context.commandName ?? '',
        headers: { ...request.headers },
        ...(input.PartNumber === undefined ? {} : { partNumber: input.PartNumber }),
      });
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: 'recordSent' },
  );
  return { client, sent };
}

const header = (sent: Sent, name: string): string | undefined => sent.headers[name];

describe('what a multipart upload sends', () => {
  const PART = 5 * MiB;
  async function upload(checksumMode: ChecksumMode) {
    const size = 2 * PART + 12_345;
    const { path, data } = await randomFile(env.dir, `sent-${checksumMode}.bin`, size);
    const { client, sent } = recordingClient();
    const uploader = createUploader({
      client,
      bucket: env.s3.bucket,
      checksumMode,
      multipartThresholdBytes: PART,
      partSizeBytes: PART,
    });
    const result = await uploader.upload({ filePath: path, key: `sent/${checksumMode}.bin` });
    expect(result.parts).toBe(3);
    expect((await readObject(client, env.s3.bucket, result.key)).equals(data)).toBe(true);
    const parts = sent.filter((s) => s.command === 'UploadPartCommand');
    expect(parts.map((p) => p.partNumber).sort()).toEqual([1, 2, 3]);
    const partData = (n: number) => data.subarray((n - 1) * PART, n * PART);
    return { data, sent, parts, partData, client };
  }

  it('when_supported: CRC32 per part from the read ahead, a full-object CRC32 at completion, no MD5', async () => {
    const { data, sent, parts, partData, client } = await upload('when_supported');
    const create = sent.find((s) => s.command === 'CreateMultipartUploadCommand') as Sent;
    expect(header(create, 'x-amz-checksum-algorithm')).toBe('CRC32');
    expect(header(create, 'x-amz-checksum-type')).toBe('FULL_OBJECT');
    for (const part of parts) {
      expect(header(part, 'x-amz-checksum-crc32')).toBe(
        crc32Base64(zlibCrc32(partData(part.partNumber as number))),
      );
      expect(header(part, 'content-md5')).toBeUndefined();
    }
    const complete = sent.find((s) => s.command === 'CompleteMultipartUploadCommand') as Sent;
    expect(header(complete, 'x-amz-checksum-crc32')).toBe(crc32Base64(zlibCrc32(data)));
    expect(header(complete, 'x-amz-checksum-type')).toBe('FULL_OBJECT');
    client.destroy();
  });

  it('when_required: each part signed with its SHA-256, no checksum header and no MD5', async () => {
    const { parts, partData, client } = await upload('when_required');
    for (const part of parts) {
      expect(header(part, 'x-amz-content-sha256')).toBe(
        createHash('sha256')
          .update(partData(part.partNumber as number))
          .digest('hex'),
      );
      expect(header(part, 'content-md5')).toBeUndefined();
      expect(Object.keys(part.headers).filter((name) => name.startsWith('x-amz-checksum-'))).toEqual([]);
    }
    client.destroy();
  });
});

describe('full-object CRC32 verification', () => {
  /** A client whose HeadObject answers carry `crc` as S3's full-object CRC32 (s3rver keeps none). */
  function reportingCrc(crc: string): S3Client {
    const client = env.s3.client();
    type Out = { output: { ChecksumCRC32?: string } };
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        if (context.commandName === 'HeadObjectCommand')
          (result as unknown as Out).output.ChecksumCRC32 = crc;
        return result;
      },
      { step: 'initialize', name: 'reportCrc' },
    );
    return client;
  }

  it('accepts an object whose full-object CRC32 is the file’s and rejects one whose CRC32 differs', async () => {
    const size = 11 * MiB;
    const { path, data } = await randomFile(env.dir, 'crc-verify.bin', size);
    const right = crc32Base64(zlibCrc32(data));
    const options = { multipartThresholdBytes: 5 * MiB, partSizeBytes: 5 * MiB };
    const good = createUploader({
      client: reportingCrc(right),
      bucket: env.s3.bucket,
      checksumMode: 'when_supported',
      ...options,
    });
    await expect(good.upload({ filePath: path, key: 'crc/good.bin' })).resolves.toMatchObject({ parts: 3 });

    const wrong = crc32Base64(zlibCrc32(data) ^ 1);
    const bad = createUploader({
      client: reportingCrc(wrong),
      bucket: env.s3.bucket,
      checksumMode: 'when_supported',
      ...options,
    });
    const error = await bad.upload({ filePath: path, key: 'crc/bad.bin' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'verification-failed' });
    expect(String((error as Error).message)).toContain(`CRC32 checksum is ${wrong}, expected ${right}`);
  });
});
