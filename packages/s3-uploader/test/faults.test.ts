import { NodeHttpHandler } from '@smithy/node-http-handler';
import { startFaultProxy, startLocalS3, type FaultProxy, type LocalS3 } from '@tvm/test-utils';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createUploader, type MultipartState } from '../src/index.js';
import { MiB, randomFile, readObject, tempDir } from './helpers.js';

let s3: LocalS3;
let proxy: FaultProxy;
let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  s3 = await startLocalS3();
  proxy = await startFaultProxy({ targetPort: s3.port });
  ({ dir, cleanup } = await tempDir());
});
afterEach(async () => {
  await proxy.setMode({ kind: 'pass' });
});
afterAll(async () => {
  await proxy.close();
  await s3.close();
  await cleanup();
});

/**
 * A client through the proxy, with no SDK retry, that gives up on a connection silent for `idleMs`. The handler's
 * `socketTimeout` is the inactivity timeout; its `requestTimeout` only logs a warning unless `throwOnRequestTimeout`.
 */
function proxiedClient(idleMs = 1_000) {
  return s3.client({
    endpoint: proxy.endpoint,
    requestHandler: new NodeHttpHandler({ socketTimeout: idleMs, connectionTimeout: idleMs }),
  });
}

describe('createUploader().upload through a faulty network', () => {
  it('classifies a connection reset in the middle of a part as a temporary network failure', async () => {
    const { path } = await randomFile(dir, 'reset.bin', 16 * MiB);
    const uploader = createUploader({ client: proxiedClient(), bucket: s3.bucket, concurrency: 1 });
    await proxy.setMode({ kind: 'reset', afterBytes: 3 * MiB });
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
    const { path, data } = await randomFile(dir, 'stall.bin', 24 * MiB);
    const states: MultipartState[] = [];
    const uploader = createUploader({ client: proxiedClient(), bucket: s3.bucket, concurrency: 1 });
    const error = await uploader
      .upload({
        filePath: path,
        key: 'faults/stall.bin',
        onStateChange: async (state) => {
          if (state) states.push(state);
          if (state?.parts.length === 1) await proxy.setMode({ kind: 'stall' });
        },
      })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'request-failed',
      operation: 'UploadPart',
      partNumber: 2,
      classification: { kind: 'temporary', category: 'timeout', scope: 'connectivity' },
    });

    await proxy.setMode({ kind: 'pass' });
    const resumed = await uploader.upload({
      filePath: path,
      key: 'faults/stall.bin',
      resumeState: states.at(-1),
    });
    expect(resumed).toMatchObject({ parts: 3, resumedParts: 1 });
    expect((await readObject(s3.client(), s3.bucket, 'faults/stall.bin')).equals(data)).toBe(true);
  });

  it('classifies a refused connection as a temporary network failure, in uploads and in checkDestination', async () => {
    const { path } = await randomFile(dir, 'refused.log', 1000);
    const uploader = createUploader({ client: proxiedClient(), bucket: s3.bucket });
    await proxy.setMode({ kind: 'refuse' });
    const expected = {
      code: 'request-failed',
      classification: { kind: 'temporary', category: 'network', scope: 'connectivity', code: 'ECONNREFUSED' },
    };
    await expect(uploader.upload({ filePath: path, key: 'faults/refused.log' })).rejects.toMatchObject(
      expected,
    );
    await expect(uploader.checkDestination()).rejects.toMatchObject({ ...expected, operation: 'HeadBucket' });

    await proxy.setMode({ kind: 'pass' });
    await expect(uploader.checkDestination()).resolves.toBeUndefined();
  });

  it('uploads correctly over a slow link', async () => {
    const { path, data } = await randomFile(dir, 'delayed.log', 200 * 1024);
    await proxy.setMode({ kind: 'delay', ms: 20 });
    const uploader = createUploader({ client: proxiedClient(5_000), bucket: s3.bucket });
    await uploader.upload({ filePath: path, key: 'faults/delayed.log' });
    expect((await readObject(s3.client(), s3.bucket, 'faults/delayed.log')).equals(data)).toBe(true);
  });
});
