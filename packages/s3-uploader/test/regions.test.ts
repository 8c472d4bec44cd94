import { HeadBucketCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';

/** Sends one request through a handler that records it and never touches the network. */
interface SeenRequest {
  protocol: string;
  hostname: string;
  port?: number;
  path: string;
}

async function requestUrl(config: S3ClientConfig): Promise<string> {
  let seen: SeenRequest | undefined;
  const client = new S3Client({
    ...config,
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    maxAttempts: 1,
    // An injected handler, not a mocked module: the SDK builds and signs the real request, then hands it over here.
    requestHandler: {
      handle: async (request: SeenRequest) => {
        seen = request;
        throw new Error('recorded, not sent');
      },
    } as unknown as NonNullable<S3ClientConfig['requestHandler']>,
  });
  await client.send(new HeadBucketCommand({ Bucket: 't01logs' })).catch(() => undefined);
  client.destroy();
  if (!seen) throw new Error('no request was built');
  return `${seen.protocol}//${seen.hostname}${seen.port ? `:${seen.port}` : ''}${seen.path}`;
}

describe('S3 endpoints for the vehicles', () => {
  it.each([
    ['cn-north-1', 'https://t01logs.s3.cn-north-1.amazonaws.com.cn/'],
    ['cn-northwest-1', 'https://t01logs.s3.cn-northwest-1.amazonaws.com.cn/'],
    ['eu-central-1', 'https://t01logs.s3.eu-central-1.amazonaws.com/'],
  ])('resolves %s to its partition endpoint (%s)', async (region, url) => {
    expect(await requestUrl({ region })).toBe(url);
  });

  it('uses an explicit endpoint with path-style addressing for S3-compatible servers', async () => {
    expect(
      await requestUrl({ region: 'cn-north-1', endpoint: 'http://10.0.0.5:9000', forcePathStyle: true }),
    ).toBe('http://10.0.0.5:9000/t01logs/');
  });
});
