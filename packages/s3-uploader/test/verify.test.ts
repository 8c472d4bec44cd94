import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { S3Client } from '@aws-sdk/client-s3';
import { localClientConfig, s3ErrorXml, startHttpResponder, type HttpResponder } from '@tvm/test-utils';
import { describe, expect, it } from 'vitest';
import { createUploader } from '../src/index.js';
import { randomFile, useTempDir } from './helpers.js';

const temp = useTempDir();

interface Script {
  /** Headers of a HEAD once an object is stored. */
  head: Record<string, string>;
  /** Whether an object is stored from the start. */
  stored?: boolean;
  /** How a conditional PUT (`If-None-Match: *`) is answered: as S3 does, or refused as not implemented. */
  conditional?: 'supported' | 'not-implemented';
}

/**
 * A server that keeps no bytes: PUT answers with an ETag that is not an MD5 (as under SSE-KMS), so the uploader
 * must verify with a HEAD, which answers from the script.
 */
function server(script: Script): Promise<HttpResponder> {
  let stored = script.stored ?? false;
  return startHttpResponder((request: IncomingMessage) => {
    if (request.method === 'PUT') {
      if (request.headers['if-none-match'] === '*') {
        if (script.conditional === 'not-implemented') {
          return {
            status: 501,
            body: s3ErrorXml('NotImplemented', 'A header you provided is not implemented'),
          };
        }
        if (stored)
          return { status: 412, body: s3ErrorXml('PreconditionFailed', 'At least one pre-condition failed') };
      }
      stored = true;
      return { status: 200, headers: { etag: '"kms-encrypted-etag"' } };
    }
    if (request.method === 'HEAD' && stored) return { status: 200, headers: script.head };
    return { status: 404 };
  });
}

async function fixture(name: string): Promise<{ path: string; sha256: string }> {
  const { path, data } = await randomFile(temp.dir, name, 3000);
  return { path, sha256: createHash('sha256').update(data).digest('hex') };
}

const methods = (responder: HttpResponder) => responder.requests.map((r) => r.method);

describe('createUploader().upload verification', () => {
  it('accepts an object whose HEAD shows the file size and SHA-256 when the ETag is not an MD5', async () => {
    const { path, sha256 } = await fixture('kms.log');
    const responder = await server({ head: { 'content-length': '3000', 'x-amz-meta-sha256': sha256 } });
    try {
      const client = new S3Client(localClientConfig(responder.endpoint));
      const result = await createUploader({ client, bucket: 'b' }).upload({ filePath: path, key: 'kms.log' });
      expect(result).toMatchObject({ bytes: 3000, sha256, etag: '"kms-encrypted-etag"' });
      expect(methods(responder)).toEqual(['PUT', 'HEAD']);
    } finally {
      await responder.close();
    }
  });

  it('rejects with verification-failed when S3 holds a different size than the file', async () => {
    const { path, sha256 } = await fixture('truncated.log');
    const responder = await server({ head: { 'content-length': '2048', 'x-amz-meta-sha256': sha256 } });
    try {
      const client = new S3Client(localClientConfig(responder.endpoint));
      const error = await createUploader({ client, bucket: 'b' })
        .upload({ filePath: path, key: 'truncated.log' })
        .catch((e: unknown) => e);
      expect(error).toMatchObject({
        code: 'verification-failed',
        key: 'truncated.log',
        classification: { kind: 'temporary', category: 'server-error' },
        message: 'Verification of "truncated.log" failed: the object has 2048 bytes, the file 3000',
      });
    } finally {
      await responder.close();
    }
  });

  it('reports an existing identical object as already present after a refused conditional write', async () => {
    const { path, sha256 } = await fixture('present.log');
    const head = { 'content-length': '3000', 'x-amz-meta-sha256': sha256, etag: '"e"' };
    const responder = await server({ head, stored: true });
    try {
      const client = new S3Client(localClientConfig(responder.endpoint));
      const result = await createUploader({ client, bucket: 'b' }).upload({
        filePath: path,
        key: 'present.log',
      });
      expect(result).toEqual({
        key: 'present.log',
        bytes: 3000,
        etag: '"e"',
        sha256,
        skipped: 'already-present',
        identity: expect.objectContaining({ size: 3000 }),
      });
      expect(methods(responder)).toEqual(['PUT', 'HEAD']);
    } finally {
      await responder.close();
    }
  });

  it('falls back to a HEAD before each write on a server that does not implement conditional writes', async () => {
    const first = await fixture('first.log');
    const second = await fixture('second.log');
    const responder = await server({
      head: { 'content-length': '3000', 'x-amz-meta-sha256': 'not-this-file' },
      conditional: 'not-implemented',
    });
    try {
      const client = new S3Client(localClientConfig(responder.endpoint));
      const uploader = createUploader({ client, bucket: 'b' });
      // Verification reads the scripted HEAD, whose SHA-256 is never the file's: only the request order matters.
      await uploader.upload({ filePath: first.path, key: 'first.log' }).catch(() => undefined);
      await uploader.upload({ filePath: second.path, key: 'second.log' }).catch(() => undefined);
      expect(methods(responder)).toEqual(['PUT', 'HEAD', 'PUT', 'HEAD', 'HEAD', 'PUT', 'HEAD']);
    } finally {
      await responder.close();
    }
  });
});
