import type { S3Client } from '@aws-sdk/client-s3';
import { GetObjectTaggingCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { createUploader } from '../src/index.js';
import { MiB, randomFile, useServers } from './helpers.js';

// Storage class, server-side encryption and tags reach S3 with the object, single PUT or multipart: seen as S3
// shows them (HeadObject, GetObjectTagging) through the test front that keeps what s3rver drops.
const env = useServers({ shim: true });
const client = (): S3Client => env.s3.client({ endpoint: env.shim.endpoint });

const settings = {
  storageClass: 'STANDARD_IA',
  serverSideEncryption: 'aws:kms',
  sseKmsKeyId: 'alias/tvm-logs',
  bucketKeyEnabled: true,
} as const;

describe('object settings and tags', () => {
  it.each([
    ['a single PUT', 3000],
    ['a multipart upload', 12 * MiB],
  ])('are sent with %s', async (_how, size) => {
    const s3 = client();
    try {
      const uploader = createUploader({ client: s3, bucket: env.s3.bucket, objectSettings: settings });
      const { path } = await randomFile(env.dir, `file-${size}`, size);
      const key = `vehicle-1/2026-12-01/ros/file-${size}.log`;
      await uploader.upload({
        filePath: path,
        key,
        metadata: { 'tvm-source': 'ros' },
        tags: { vehicle: 'vehicle-1', source: 'ros', 'with space': 'a&b=c' },
      });
      const head = await s3.send(new HeadObjectCommand({ Bucket: env.s3.bucket, Key: key }));
      expect(head).toMatchObject({
        StorageClass: 'STANDARD_IA',
        ServerSideEncryption: 'aws:kms',
        SSEKMSKeyId: 'alias/tvm-logs',
        BucketKeyEnabled: true,
        TagCount: 3,
        Metadata: expect.objectContaining({ 'tvm-source': 'ros' }),
      });
      const tagging = await s3.send(new GetObjectTaggingCommand({ Bucket: env.s3.bucket, Key: key }));
      expect(tagging.TagSet).toEqual([
        { Key: 'vehicle', Value: 'vehicle-1' },
        { Key: 'source', Value: 'ros' },
        { Key: 'with space', Value: 'a&b=c' },
      ]);
    } finally {
      s3.destroy();
    }
  });

  it('are refused with the option named when inconsistent', () => {
    const s3 = client();
    try {
      expect(() =>
        createUploader({
          client: s3,
          bucket: 'b',
          objectSettings: { sseKmsKeyId: 'k', serverSideEncryption: 'AES256' },
        }),
      ).toThrow(
        'Expected `objectSettings.sseKmsKeyId` to be a key id given with serverSideEncryption \'aws:kms\', got "k"',
      );
      expect(() =>
        createUploader({ client: s3, bucket: 'b', objectSettings: { storageClass: 'cold' } }),
      ).toThrow(
        'Expected `objectSettings.storageClass` to be an S3 storage class such as STANDARD_IA, got "cold"',
      );
    } finally {
      s3.destroy();
    }
  });
});
