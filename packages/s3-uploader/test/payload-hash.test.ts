// SigV4 hashes every request body unless told its hash: these tests count the bytes the SDK hashes with SHA-256,
// through a counting hash given to the client, and check that the uploader spares it the work it already did.
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { Agent } from 'node:https';
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { generateTestCertificates, localClientConfig, startTlsFront, type TlsFront } from '@tvm/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUploader } from '../src/index.js';
import { MiB, randomFile, readObject, useServers } from './helpers.js';

const servers = useServers();

/** Bytes given to SHA-256 by the SDK (signing keys and canonical requests included: a few hundred per request). */
let hashed = 0;
type SourceData = string | ArrayBuffer | ArrayBufferView;
const bytes = (data: SourceData): string | Uint8Array =>
  typeof data === 'string'
    ? data
    : data instanceof ArrayBuffer
      ? new Uint8Array(data)
      : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
class CountingSha256 {
  private inner: Hash | Hmac;
  private readonly secret: string | Uint8Array | undefined;
  constructor(secret?: SourceData) {
    this.secret = secret === undefined ? undefined : bytes(secret);
    this.inner = this.fresh();
  }
  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', this.secret);
  }
  update(data: SourceData): void {
    const view = bytes(data);
    hashed += typeof view === 'string' ? Buffer.byteLength(view) : view.byteLength;
    this.inner.update(view);
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(this.inner.digest());
  }
  reset(): void {
    this.inner = this.fresh();
  }
}

/** A TLS front on loopback in front of s3rver, with a self-signed certificate the client is told to trust. */
let front: TlsFront | undefined;
beforeAll(async () => {
  front = await startTlsFront(servers.s3.endpoint, generateTestCertificates());
});
afterAll(() => front?.close());

function client(mode: 'WHEN_REQUIRED' | 'WHEN_SUPPORTED', https = false): S3Client {
  const endpoint = https ? (front as TlsFront).endpoint : servers.s3.endpoint;
  return new S3Client({
    ...localClientConfig(endpoint, {
      requestChecksumCalculation: mode,
      responseChecksumValidation: 'WHEN_REQUIRED',
    }),
    sha256: CountingSha256,
    ...(https ? { requestHandler: new NodeHttpHandler({ httpsAgent: new Agent({ ca: front?.ca }) }) } : {}),
  });
}

async function upload(s3: S3Client, name: string, size: number) {
  const { path, data } = await randomFile(servers.dir, name, size);
  const uploader = createUploader({
    client: s3,
    bucket: 'test-bucket',
    multipartThresholdBytes: 5 * MiB,
    partSizeBytes: 5 * MiB,
  });
  hashed = 0;
  const result = await uploader.upload({ filePath: path, key: `payload/${name}` });
  const sdkHashed = hashed;
  expect(result.sha256).toBe(createHash('sha256').update(data).digest('hex'));
  expect((await readObject(s3, 'test-bucket', result.key)).equals(data)).toBe(true);
  return { result, sdkHashed };
}

describe('SigV4 payload hashing', () => {
  it('a single PutObject is signed with the SHA-256 the uploader computed: the SDK hashes none of the body', async () => {
    const s3 = client('WHEN_REQUIRED');
    const { sdkHashed } = await upload(s3, 'small.bin', 512 * 1024);
    expect(sdkHashed).toBeLessThan(16 * 1024);
    s3.destroy();
  });

  it.each([
    ['plain HTTP', false],
    ['HTTPS', true],
  ] as const)(
    'when_required parts are signed with the SHA-256 the uploader computed (%s): the SDK hashes none of the bytes',
    async (_name, https) => {
      const s3 = client('WHEN_REQUIRED', https);
      const { result, sdkHashed } = await upload(s3, `signed-parts-${String(https)}.bin`, 12 * MiB);
      expect(result.parts).toBe(3);
      expect(sdkHashed).toBeLessThan(64 * 1024);
      s3.destroy();
    },
  );

  it('over HTTPS, CRC32-checked parts (when_supported) go as UNSIGNED-PAYLOAD: nothing hashes the bytes again', async () => {
    const s3 = client('WHEN_SUPPORTED', true);
    const { result, sdkHashed } = await upload(s3, 'https-crc-parts.bin', 12 * MiB);
    expect(result.parts).toBe(3);
    expect(sdkHashed).toBeLessThan(64 * 1024);
    s3.destroy();
  });

  it('over plain HTTP, CRC32-checked parts keep a signed payload hash (nothing else authenticates the bytes)', async () => {
    const s3 = client('WHEN_SUPPORTED');
    const { sdkHashed } = await upload(s3, 'http-crc-parts.bin', 12 * MiB);
    expect(sdkHashed).toBeGreaterThanOrEqual(12 * MiB);
    s3.destroy();
  });
});
