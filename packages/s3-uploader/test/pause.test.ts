import { ListMultipartUploadsCommand, type S3Client } from '@aws-sdk/client-s3';
import { beforeEach, describe, expect, it } from 'vitest';
import { createUploader, UploadPausedError, type MultipartState } from '../src/index.js';
import { MiB, randomFile, readObject, useServers } from './helpers.js';

const env = useServers({ shim: true, proxy: true });

// client -> fault proxy (counts bytes) -> multipart shim (ListParts as S3 has it) -> s3rver

beforeEach(() => env.proxy.resetCounters());

/** A client through the proxy that counts the S3 operations it sends, by name. */
function countingClient(): { client: S3Client; sent: Map<string, number> } {
  const client = env.s3.client({ endpoint: env.proxy.endpoint });
  const sent = new Map<string, number>();
  client.middlewareStack.add(
    (next, context) => (args) => {
      const name = (context.commandName ?? '?').replace(/Command$/, '');
      sent.set(name, (sent.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'count-operations' },
  );
  return { client, sent };
}

describe('UploadRequest.shouldPause', () => {
  it('pauses after the parts in flight, keeps the multipart upload, and resumes it without resending a part', async () => {
    const { path, data } = await randomFile(env.dir, 'pause.bin', 40 * MiB);
    const key = 'pause/pause.bin';
    const { client, sent } = countingClient();
    const uploader = createUploader({
      client,
      bucket: env.s3.bucket,
      concurrency: 2,
      partSizeBytes: 5 * MiB,
    });
    const states: Array<MultipartState | undefined> = [];
    let asked = 0;
    const error = await uploader
      .upload({
        filePath: path,
        key,
        onStateChange: (state) => {
          states.push(state);
        },
        shouldPause: () => {
          asked++;
          const last = states.at(-1);
          return last && last.parts.length >= 2 ? 'a file of a higher lane is waiting' : undefined;
        },
      })
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(UploadPausedError);
    expect(error).toMatchObject({
      name: 'UploadPausedError',
      reason: 'a file of a higher lane is waiting',
      key,
    });
    expect(asked).toBeGreaterThan(2);
    const saved = states.at(-1);
    if (!saved) throw new Error('no state was saved');
    // The part in flight when the pause was asked finished and was reported; nothing else started.
    expect(saved.parts.length).toBeGreaterThanOrEqual(2);
    expect(saved.parts.length).toBeLessThanOrEqual(3);
    expect(sent.get('UploadPart')).toBe(saved.parts.length);
    expect(sent.get('CompleteMultipartUpload')).toBeUndefined();
    expect(sent.get('AbortMultipartUpload')).toBeUndefined();
    // S3 still holds the upload: kept, not aborted.
    const pending = await env.s3
      .client({ endpoint: env.shim.endpoint })
      .send(new ListMultipartUploadsCommand({ Bucket: env.s3.bucket, Prefix: 'pause/' }));
    expect(pending.Uploads?.map((u) => u.UploadId)).toContain(saved.uploadId);

    env.proxy.resetCounters();
    sent.clear();
    const result = await uploader.upload({ filePath: path, key, resumeState: saved });
    expect(result).toMatchObject({ parts: 8, resumedParts: saved.parts.length });
    expect(sent.get('CreateMultipartUpload')).toBeUndefined();
    expect(sent.get('UploadPart')).toBe(8 - saved.parts.length);
    const missingBytes = (8 - saved.parts.length) * 5 * MiB;
    expect(env.proxy.bytesUpstream).toBeGreaterThanOrEqual(missingBytes);
    expect(env.proxy.bytesUpstream).toBeLessThan(missingBytes + 64 * 1024);
    expect((await readObject(env.s3.client(), env.s3.bucket, key)).equals(data)).toBe(true);
  });

  it('pausing before the first part creates no multipart upload', async () => {
    const { path } = await randomFile(env.dir, 'early.bin', 12 * MiB);
    const { client, sent } = countingClient();
    const uploader = createUploader({ client, bucket: env.s3.bucket, partSizeBytes: 5 * MiB });
    const states: Array<MultipartState | undefined> = [];
    const error = await uploader
      .upload({
        filePath: path,
        key: 'pause/early.bin',
        onStateChange: (state) => {
          states.push(state);
        },
        shouldPause: () => 'metered link',
      })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'UploadPausedError', reason: 'metered link' });
    expect(sent.get('CreateMultipartUpload')).toBeUndefined();
    expect(sent.get('UploadPart')).toBeUndefined();
    expect(states).toEqual([]);
  });

  it('is not consulted for a single-request upload', async () => {
    const { path, data } = await randomFile(env.dir, 'small.bin', 1 * MiB);
    const uploader = createUploader({
      client: env.s3.client({ endpoint: env.proxy.endpoint }),
      bucket: env.s3.bucket,
    });
    let asked = 0;
    const result = await uploader.upload({
      filePath: path,
      key: 'pause/small.bin',
      shouldPause: () => {
        asked++;
        return 'never';
      },
    });
    expect(asked).toBe(0);
    expect(result.bytes).toBe(data.length);
  });

  it('a cancel wins over a pause: the error is aborted', async () => {
    const { path } = await randomFile(env.dir, 'cancel.bin', 12 * MiB);
    const controller = new AbortController();
    const uploader = createUploader({
      client: env.s3.client({ endpoint: env.proxy.endpoint }),
      bucket: env.s3.bucket,
      partSizeBytes: 5 * MiB,
    });
    const error = await uploader
      .upload({
        filePath: path,
        key: 'pause/cancel.bin',
        signal: controller.signal,
        shouldPause: () => {
          controller.abort();
          return 'paused';
        },
      })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'UploadError', code: 'aborted' });
  });
});
