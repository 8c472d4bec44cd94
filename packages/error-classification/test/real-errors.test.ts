import { constants } from 'node:fs';
import { mkdtemp, open, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  generateTestCertificates,
  localClientConfig,
  s3ErrorXml,
  startHttpResponder,
  startLocalS3,
  startTlsFront,
  type LocalS3,
} from '@tvm/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classify, type Classification } from '../src/index.js';

/** Sends a command and returns the classification of the error the real SDK raised. */
async function failureOf(
  client: S3Client,
  command: PutObjectCommand | HeadBucketCommand,
): Promise<Classification> {
  try {
    // The union of two command types does not fit `send`'s overloads; each branch does.
    if (command instanceof PutObjectCommand) await client.send(command);
    else await client.send(command);
  } catch (error) {
    return classify(error);
  }
  throw new Error('expected the request to fail');
}

const put = (bucket: string) =>
  new PutObjectCommand({ Bucket: bucket, Key: 'v/2025-10-20/ros/a.log', Body: Buffer.from('x') });

describe('classify (errors raised by the real AWS SDK)', () => {
  let s3: LocalS3;
  beforeAll(async () => {
    s3 = await startLocalS3({ buckets: ['t01logs'] });
  });
  afterAll(async () => {
    await s3.close();
  });

  it('sees a wrong access key id as invalid-credentials', async () => {
    const client = s3.client({ credentials: { accessKeyId: 'AKIAWRONGWRONGWRONG1', secretAccessKey: 'x' } });
    expect(await failureOf(client, put('t01logs'))).toMatchObject({
      kind: 'permanent',
      category: 'invalid-credentials',
      scope: 'destination',
      code: 'InvalidAccessKeyId',
      httpStatus: 403,
    });
  });

  it('sees PutObject to a missing bucket as bucket-not-found', async () => {
    expect(await failureOf(s3.client(), put('no-such-bucket'))).toMatchObject({
      kind: 'permanent',
      category: 'bucket-not-found',
      code: 'NoSuchBucket',
      httpStatus: 404,
    });
  });

  it('sees HeadBucket on a missing bucket (no body) as bucket-not-found', async () => {
    expect(await failureOf(s3.client(), new HeadBucketCommand({ Bucket: 'no-such-bucket' }))).toMatchObject({
      kind: 'permanent',
      category: 'bucket-not-found',
      httpStatus: 404,
    });
  });

  it('sees an endpoint signed by an unknown CA as a permanent tls-certificate error', async () => {
    const front = await startTlsFront(s3.endpoint, generateTestCertificates());
    try {
      const client = new S3Client({ ...localClientConfig(front.endpoint), maxAttempts: 1 });
      expect(await failureOf(client, put('t01logs'))).toMatchObject({
        kind: 'permanent',
        category: 'tls-certificate',
        scope: 'destination',
        code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      });
    } finally {
      await front.close();
    }
  });

  it('sees a closed port as a temporary network error', async () => {
    const port = await closedPort();
    const client = new S3Client(localClientConfig(`http://127.0.0.1:${port}`));
    expect(await failureOf(client, put('t01logs'))).toMatchObject({
      kind: 'temporary',
      category: 'network',
      scope: 'connectivity',
      code: 'ECONNREFUSED',
    });
  });

  it('sees an unresolvable host as a temporary dns error', async () => {
    // `.invalid` is reserved (RFC 2606): it never resolves, and the lookup never leaves the machine's resolver.
    const client = new S3Client(localClientConfig('http://no-such-host.invalid'));
    const result = await failureOf(client, put('t01logs'));
    expect(result).toMatchObject({ kind: 'temporary', category: 'dns', scope: 'connectivity' });
    expect(['ENOTFOUND', 'EAI_AGAIN']).toContain(result.code);
  });

  it.each([
    [429, 'SlowDown', 'throttled'],
    [500, 'InternalError', 'server-error'],
    [503, 'ServiceUnavailable', 'service-unavailable'],
  ] as const)('sees HTTP %i (%s) with Retry-After as %s', async (status, code, category) => {
    const responder = await startHttpResponder(() => ({
      status,
      headers: { 'retry-after': '17' },
      body: s3ErrorXml(code, 'Please try again.'),
    }));
    try {
      const client = new S3Client(localClientConfig(responder.endpoint));
      expect(await failureOf(client, put('t01logs'))).toMatchObject({
        kind: 'temporary',
        category,
        scope: 'service',
        code,
        httpStatus: status,
        retryAfterMs: 17_000,
        message: `${code}: Please try again.`,
      });
    } finally {
      await responder.close();
    }
  });

  it('sees a bodiless 503 on HEAD as service-unavailable', async () => {
    const responder = await startHttpResponder(() => ({ status: 503 }));
    try {
      const client = new S3Client(localClientConfig(responder.endpoint));
      expect(await failureOf(client, new HeadBucketCommand({ Bucket: 't01logs' }))).toMatchObject({
        kind: 'temporary',
        category: 'service-unavailable',
        httpStatus: 503,
      });
    } finally {
      await responder.close();
    }
  });
});

describe('classify (errors raised by the real filesystem)', () => {
  it('sees open(O_NOFOLLOW) of a symlink (ELOOP) as a permanent error of that file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'classify-'));
    try {
      await writeFile(join(dir, 'target'), 'x');
      await symlink(join(dir, 'target'), join(dir, 'link'));
      const error = await open(join(dir, 'link'), constants.O_RDONLY | constants.O_NOFOLLOW).then(
        async (handle) => {
          await handle.close();
          throw new Error('expected the open to fail');
        },
        (e: unknown) => e,
      );
      expect(classify(error)).toMatchObject({
        kind: 'permanent',
        category: 'disk-read-error',
        scope: 'file',
        code: 'ELOOP',
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** A port nothing listens on: bind one, note it, close it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}
