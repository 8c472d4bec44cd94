import { utimes } from 'node:fs/promises';
import { AbortMultipartUploadCommand, CreateMultipartUploadCommand } from '@aws-sdk/client-s3';
import { createFakeClock } from '@tvm/test-utils';
import { beforeEach, describe, expect, it } from 'vitest';
import { createUploader, DEFAULT_STALE_UPLOAD_AGE_MS, type MultipartState } from '../src/index.js';
import { MiB, randomFile, readObject, useServers } from './helpers.js';

const env = useServers({ shim: true, proxy: true });

// client -> fault proxy (counts bytes) -> multipart shim (ListParts, Abort, NoSuchUpload as S3 has them) -> s3rver

beforeEach(() => env.proxy.resetCounters());

const client = () => env.s3.client({ endpoint: env.proxy.endpoint });

/** Starts an upload of `path` and cancels it once `parts` parts are recorded; returns the last state saved. */
async function interrupted(
  path: string,
  key: string,
  parts: number,
  partSizeBytes = 8 * MiB,
): Promise<MultipartState> {
  const controller = new AbortController();
  let saved: MultipartState | undefined;
  const error = await createUploader({
    client: client(),
    bucket: env.s3.bucket,
    concurrency: 2,
    partSizeBytes,
  })
    .upload({
      filePath: path,
      key,
      signal: controller.signal,
      onStateChange: (state) => {
        saved = state;
        if (state && state.parts.length >= parts) controller.abort();
      },
    })
    .catch((e: unknown) => e);
  expect(error).toMatchObject({ code: 'aborted' });
  if (!saved) throw new Error('no state was saved');
  return saved;
}

describe('createUploader().upload with resumeState', () => {
  it('sends only the missing parts of an interrupted 64 MiB upload and the object is byte-identical', async () => {
    const { path, data } = await randomFile(env.dir, 'resume.bin', 64 * MiB);
    const saved = await interrupted(path, 'resume/resume.bin', 3);
    // Persisted as JSON between processes.
    const restored = JSON.parse(JSON.stringify(saved)) as MultipartState;

    env.proxy.resetCounters();
    const states: Array<MultipartState | undefined> = [];
    const result = await createUploader({ client: client(), bucket: env.s3.bucket }).upload({
      filePath: path,
      key: 'resume/resume.bin',
      resumeState: restored,
      onStateChange: (state) => {
        states.push(state);
      },
    });
    expect(result.parts).toBe(8);
    // ListParts may find a part that finished after the cancel but before it was recorded: it is kept too.
    expect(result.resumedParts).toBeGreaterThanOrEqual(3);
    const missingBytes = (8 - (result.resumedParts ?? 0)) * 8 * MiB;
    expect(env.proxy.bytesUpstream).toBeGreaterThanOrEqual(missingBytes);
    expect(env.proxy.bytesUpstream).toBeLessThan(missingBytes + 64 * 1024); // headers and XML only
    expect(states.at(-1)).toBeUndefined();
    expect(states[0]?.uploadId).toBe(saved.uploadId);
    expect((await readObject(env.s3.client(), env.s3.bucket, 'resume/resume.bin')).equals(data)).toBe(true);
  });

  it('keeps a part S3 holds that the saved state never recorded (ListParts reconciliation)', async () => {
    const { path, data } = await randomFile(env.dir, 'reconcile.bin', 20 * MiB);
    const saved = await interrupted(path, 'resume/reconcile.bin', 3, 5 * MiB);
    const forgetful = { ...saved, parts: saved.parts.slice(0, -1) };
    const result = await createUploader({ client: client(), bucket: env.s3.bucket }).upload({
      filePath: path,
      key: 'resume/reconcile.bin',
      resumeState: forgetful,
    });
    expect(result.resumedParts).toBeGreaterThanOrEqual(saved.parts.length);
    expect((await readObject(env.s3.client(), env.s3.bucket, 'resume/reconcile.bin')).equals(data)).toBe(
      true,
    );
  });

  it('restarts cleanly when S3 no longer knows the upload (NoSuchUpload)', async () => {
    const { path, data } = await randomFile(env.dir, 'gone.bin', 12 * MiB);
    const saved = await interrupted(path, 'resume/gone.bin', 1, 5 * MiB);
    await client().send(
      new AbortMultipartUploadCommand({
        Bucket: env.s3.bucket,
        Key: 'resume/gone.bin',
        UploadId: saved.uploadId,
      }),
    );
    const states: Array<MultipartState | undefined> = [];
    const result = await createUploader({ client: client(), bucket: env.s3.bucket }).upload({
      filePath: path,
      key: 'resume/gone.bin',
      resumeState: saved,
      onStateChange: (state) => {
        states.push(state);
      },
    });
    expect(result).toMatchObject({ parts: 2, resumedParts: 0 });
    expect(states[0]).toBeUndefined();
    expect(states[1]?.uploadId).not.toBe(saved.uploadId);
    expect((await readObject(env.s3.client(), env.s3.bucket, 'resume/gone.bin')).equals(data)).toBe(true);
  });

  it('restarts cleanly when the upload disappears while parts are being sent', async () => {
    const { path, data } = await randomFile(env.dir, 'vanish.bin', 12 * MiB);
    const saved = await interrupted(path, 'resume/vanish.bin', 1, 5 * MiB);
    let aborted = false;
    const result = await createUploader({ client: client(), bucket: env.s3.bucket, concurrency: 1 }).upload({
      filePath: path,
      key: 'resume/vanish.bin',
      resumeState: saved,
      onStateChange: async (state) => {
        if (!aborted && state?.uploadId === saved.uploadId) {
          aborted = true; // e.g. the stale-upload clean-up of another process
          await env.s3.client({ endpoint: env.shim.endpoint }).send(
            new AbortMultipartUploadCommand({
              Bucket: env.s3.bucket,
              Key: state.key,
              UploadId: state.uploadId,
            }),
          );
        }
      },
    });
    expect(result).toMatchObject({ parts: 2, resumedParts: 0 });
    expect((await readObject(env.s3.client(), env.s3.bucket, 'resume/vanish.bin')).equals(data)).toBe(true);
  });

  it('starts over when the file changed since the state was saved', async () => {
    const { path, data } = await randomFile(env.dir, 'touched.bin', 12 * MiB);
    const saved = await interrupted(path, 'resume/touched.bin', 1, 5 * MiB);
    await utimes(path, new Date(), new Date(Date.now() + 5_000));
    const states: Array<MultipartState | undefined> = [];
    const result = await createUploader({ client: client(), bucket: env.s3.bucket }).upload({
      filePath: path,
      key: 'resume/touched.bin',
      resumeState: saved,
      onStateChange: (state) => {
        states.push(state);
      },
    });
    expect(result.resumedParts).toBe(0);
    expect(states[0]).toBeUndefined();
    expect((await readObject(env.s3.client(), env.s3.bucket, 'resume/touched.bin')).equals(data)).toBe(true);
  });
});

describe('createUploader().abortStaleUploads', () => {
  it('aborts multipart uploads older than staleUploadAgeMs under a prefix and keeps younger ones', async () => {
    const created = await client().send(
      new CreateMultipartUploadCommand({ Bucket: env.s3.bucket, Key: 'stale/v1/old.bin' }),
    );
    await client().send(new CreateMultipartUploadCommand({ Bucket: env.s3.bucket, Key: 'other/v2/old.bin' }));
    const now = createFakeClock(Date.now());
    const young = createUploader({ client: client(), bucket: env.s3.bucket, clock: now });
    expect(await young.abortStaleUploads('stale/')).toEqual({ aborted: [], kept: 1 });

    const later = createFakeClock(Date.now() + DEFAULT_STALE_UPLOAD_AGE_MS + 60_000);
    const old = createUploader({ client: client(), bucket: env.s3.bucket, clock: later });
    const result = await old.abortStaleUploads('stale/');
    expect(result).toEqual({
      aborted: [{ key: 'stale/v1/old.bin', uploadId: created.UploadId, initiatedAt: expect.any(Number) }],
      kept: 0,
    });
    expect(await old.abortStaleUploads('stale/')).toEqual({ aborted: [], kept: 0 });
  });

  it('takes an age of its own and spares the uploads `keep` names, reporting each abort as it happens', async () => {
    const ids: string[] = [];
    for (const name of ['a.bin', 'b.bin', 'c.bin']) {
      const created = await client().send(
        new CreateMultipartUploadCommand({ Bucket: env.s3.bucket, Key: `options/v1/${name}` }),
      );
      ids.push(created.UploadId ?? '');
    }
    const [kept, first, second] = ids;
    const uploader = createUploader({
      client: client(),
      bucket: env.s3.bucket,
      clock: createFakeClock(Date.now() + 2 * 3_600_000),
    });
    // 3 h: none is that old yet.
    expect(await uploader.abortStaleUploads({ prefix: 'options/', olderThanMs: 3 * 3_600_000 })).toEqual({
      aborted: [],
      kept: 3,
    });
    const reported: string[] = [];
    const result = await uploader.abortStaleUploads({
      prefix: 'options/',
      olderThanMs: 3_600_000,
      keep: (upload) => upload.uploadId === kept,
      onAborted: (upload) => reported.push(upload.uploadId),
    });
    expect(result.aborted.map((u) => u.uploadId).sort()).toEqual([first, second].sort());
    expect(result.kept).toBe(1);
    expect(reported.sort()).toEqual([first, second].sort());
    const left = await uploader.abortStaleUploads({
      prefix: 'options/',
      olderThanMs: 3_600_000,
      keep: () => true,
    });
    expect(left).toEqual({ aborted: [], kept: 1 });
  });

  it('rejects an invalid olderThanMs with a TypeError naming it', async () => {
    const uploader = createUploader({ client: client(), bucket: env.s3.bucket });
    await expect(uploader.abortStaleUploads({ olderThanMs: -1 })).rejects.toThrow(
      'Expected `olderThanMs` to be an integer >= 0, got -1',
    );
  });

  it('rejects with a classified UploadError when the server cannot list uploads', async () => {
    const uploader = createUploader({ client: env.s3.client(), bucket: env.s3.bucket });
    await expect(uploader.abortStaleUploads()).rejects.toMatchObject({
      name: 'UploadError',
      code: 'request-failed',
      operation: 'ListMultipartUploads',
      classification: { httpStatus: 501 },
    });
  });
});
