import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { runTypeScript, S3RVER_CREDENTIALS, startLocalS3 } from '@tvm/test-utils';
import { describe, expect, it } from 'vitest';

describe('examples/basic.ts', () => {
  it('uploads a 20 MiB log in three parts, then finds it already present', async () => {
    const s3 = await startLocalS3({ buckets: ['t01logs'] });
    try {
      const { stdout } = await runTypeScript(
        fileURLToPath(new URL('../examples/basic.ts', import.meta.url)),
        {
          env: {
            S3_ENDPOINT: s3.endpoint,
            AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
            AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
          },
        },
      );
      const sha256 = createHash('sha256')
        .update(Buffer.alloc(20 * 1024 * 1024, 'ros log line\n'))
        .digest('hex');
      expect(stdout.trim().split('\n')).toEqual([
        `uploaded vehicle-CN-001/2025-10-20/ros/launch.log: 20971520 bytes in 3 parts, sha256 ${sha256}`,
        'again: already-present',
      ]);
    } finally {
      await s3.close();
    }
  });
});
