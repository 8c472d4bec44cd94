import { randomBytes } from 'node:crypto';
import { stat, writeFile, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectTaggingCommand, HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { startLocalS3, startMultipartShim, type LocalS3, type MultipartShim } from '@tvm/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VERSION } from '../src/version.js';
import { buildCli, createWorkspace, startAgent } from './ops-harness.js';

// Object governance end to end: the real daemon's objects, single PUT and multipart, as HeadObject and
// GetObjectTagging show them (through the test front that keeps the tags and SSE headers s3rver drops).
let cli: string;
let cleanupCli: () => Promise<void>;
let s3: LocalS3;
let shim: MultipartShim;
beforeAll(async () => {
  ({ cli, cleanup: cleanupCli } = await buildCli());
  s3 = await startLocalS3();
  shim = await startMultipartShim({ port: s3.port, directory: s3.directory });
}, 120_000);
afterAll(async () => {
  await Promise.all([cleanupCli(), shim.close()]);
  await s3.close();
});

describe('object governance', () => {
  it('sends storage class, SSE, tags and the agent metadata with every upload', async () => {
    const ws = await createWorkspace({
      endpoint: shim.endpoint,
      bucket: s3.bucket,
      upload: 'file_stable_seconds: 1\noperational_hours: { enabled: false }\ntimezone: Asia/Shanghai',
      extra: 'monitoring: { cloudwatch_enabled: false }',
    });
    const config = join(ws.root, 'config.yaml');
    const { readFile } = await import('node:fs/promises');
    await writeFile(
      config,
      (await readFile(config, 'utf8')).replace(
        '  force_path_style: true',
        [
          '  force_path_style: true',
          '  storage_class: STANDARD_IA',
          '  sse: { mode: "aws:kms", kms_key_id: alias/tvm-logs, bucket_key: true }',
          '  tags: { vehicle: "{vehicle}", source: "{source}", fleet: beijing-01 }',
        ].join('\n'),
      ),
    );
    const client = s3.client({ endpoint: shim.endpoint });
    try {
      const small = join(ws.logs, 'ros', '测试 small.log');
      const big = join(ws.logs, 'terminal', 'big.bag');
      await writeFile(small, 'small\n'.repeat(100));
      await writeFile(big, randomBytes(10 * 1024 * 1024));
      const old = new Date(Date.now() - 3_600_000);
      for (const path of [small, big]) await utimes(path, old, old);
      const agent = await startAgent(cli, config, join(ws.root, 'agent.log'));
      try {
        await agent.waitFor(/Uploaded /, 60_000, 2);
      } finally {
        expect(await agent.stop()).toBe(0);
      }
      const listed = await client.send(
        new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'vehicle-TEST-001/' }),
      );
      const keys = (listed.Contents ?? []).map((o) => o.Key!).filter((k) => !k.includes('/_manifests/'));
      expect(keys).toHaveLength(2);
      for (const [path, source] of [
        [small, 'ros'],
        [big, 'terminal'],
      ] as const) {
        const key = keys.find((k) => k.includes(`/${source}/`))!;
        const head = await client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key }));
        expect(head).toMatchObject({
          StorageClass: 'STANDARD_IA',
          ServerSideEncryption: 'aws:kms',
          SSEKMSKeyId: 'alias/tvm-logs',
          BucketKeyEnabled: true,
          TagCount: 3,
        });
        expect(head.Metadata).toMatchObject({
          'tvm-vehicle': 'vehicle-TEST-001',
          'tvm-source': source,
          'tvm-mtime': new Date((await stat(path)).mtimeMs).toISOString(),
          'tvm-agent-version': VERSION,
          sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
        });
        // The path's non-ASCII bytes and spaces percent-encoded, as HTTP headers must be.
        expect(decodeURIComponent(head.Metadata!['tvm-path']!)).toBe(path);
        const tagging = await client.send(new GetObjectTaggingCommand({ Bucket: s3.bucket, Key: key }));
        expect(tagging.TagSet).toEqual([
          { Key: 'vehicle', Value: 'vehicle-TEST-001' },
          { Key: 'source', Value: source },
          { Key: 'fleet', Value: 'beijing-01' },
        ]);
      }
    } finally {
      client.destroy();
      await ws.cleanup();
    }
  }, 120_000);
});
