import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterEach, describe, expect, it } from 'vitest';
import { createUploader, type MultipartState } from '../src/index.js';
import { MiB, randomFile, readObject, useServers } from './helpers.js';

const env = useServers({ proxy: true });

afterEach(async () => {
  await env.proxy.setMode({ kind: 'pass' });
});

/**
 * A client through the proxy, with no SDK retry, that gives up on a connection silent for `idleMs`. The handler's
 * `socketTimeout` is the inactivity timeout; its `requestTimeout` only logs a warning unless `throwOnRequestTimeout`.
 */
function proxiedClient(idleMs = 1_000) {
  return env.s3.client({
    endpoint: env.proxy.endpoint,
    requestHandler: new NodeHttpHandler({ socketTimeout: idleMs, connectionTimeout: idleMs }),
  });
}

describe('createUploader().upload through a faulty network', () => {
  it('classifies a connection reset in the middle of a part as a temporary network failure', async () => {
    const { path } = await randomFile(env.dir, 'reset.bin', 16 * MiB);
    const uploader = createUploader({ client: proxiedClient(), bucket: env.s3.bucket, concurrency: 1 });
    await env.proxy.setMode({ kind: 'reset', afterBytes: 3 * MiB });
    const error = await uploader.upload({ filePath: path, key: 'faults/reset.bin' }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      name: 'UploadError',
      code: 'request-failed',
      operation: 'UploadPart',
      partNumber: 1,
      classification: { kind: 'temporary', category: 'network', scope: 'connectivity' },
    });
    expect(['ECONNRESET', 'EPIPE']).toContain(
      (error as { classification: { code: string } }).classification.code,
    );
  });

  it('classifies a stalled connection as a timeout and resumes from the saved state afterwards', async () => {
    const { path, data } = await randomFile(env.dir, 'stall.bin', 24 * MiB);
    const states: MultipartState[] = [];
    const uploader = createUploader({ client: proxiedClient(), bucket: env.s3.bucket, concurrency: 1 });
    const error = await uploader
      .upload({
        filePath: path,
        key: 'faults/stall.bin',
        onStateChange: async (state) => {
          if (state) states.push(state);
          if (state?.parts.length === 1) await env.proxy.setMode({ kind: 'stall' });
        },
      })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'request-failed',
      operation: 'UploadPart',
      partNumber: 2,
      classification: { kind: 'temporary', category: 'timeout', scope: 'connectivity' },
    });

    await env.proxy.setMode({ kind: 'pass' });
    const resumed = await uploader.upload({
      filePath: path,
      key: 'faults/stall.bin',
      resumeState: states.at(-1),
    });
    expect(resumed).toMatchObject({ parts: 3, resumedParts: 1 });
    expect((await readObject(env.s3.client(), env.s3.bucket, 'faults/stall.bin')).equals(data)).toBe(true);
  });

  it('classifies a refused connection as a temporary network failure, in uploads and in checkDestination', async () => {
    const { path } = await randomFile(env.dir, 'refused.log', 1000);
    const uploader = createUploader({ client: proxiedClient(), bucket: env.s3.bucket });
    await env.proxy.setMode({ kind: 'refuse' });
    const expected = {
      code: 'request-failed',
      classification: { kind: 'temporary', category: 'network', scope: 'connectivity', code: 'ECONNREFUSED' },
    };
    await expect(uploader.upload({ filePath: path, key: 'faults/refused.log' })).rejects.toMatchObject(
      expected,
    );
    await expect(uploader.checkDestination()).rejects.toMatchObject({ ...expected, operation: 'HeadBucket' });

    await env.proxy.setMode({ kind: 'pass' });
    await expect(uploader.checkDestination()).resolves.toBeUndefined();
  });

  it('uploads correctly over a slow link', async () => {
    const { path, data } = await randomFile(env.dir, 'delayed.log', 200 * 1024);
    await env.proxy.setMode({ kind: 'delay', ms: 20 });
    const uploader = createUploader({ client: proxiedClient(5_000), bucket: env.s3.bucket });
    await uploader.upload({ filePath: path, key: 'faults/delayed.log' });
    expect((await readObject(env.s3.client(), env.s3.bucket, 'faults/delayed.log')).equals(data)).toBe(true);
  });
});
