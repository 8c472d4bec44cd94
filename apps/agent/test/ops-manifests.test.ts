import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { startLocalS3, type LocalS3 } from '@tvm/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dateIn } from '../src/object-key.js';
import { writeLog } from './helpers.js';
import { buildCli, createWorkspace, runCli, startAgent } from './ops-harness.js';

// Delivery manifests end to end: the real daemon records what it uploads and deletes unsent, writes ended days by
// itself, `tvm-upload manifest` writes today so far, and `tvm-upload audit` compares a day with the bucket.
let cli: string;
let cleanupCli: () => Promise<void>;
let s3: LocalS3;
beforeAll(async () => {
  ({ cli, cleanup: cleanupCli } = await buildCli());
  s3 = await startLocalS3();
}, 120_000);
afterAll(async () => {
  await Promise.all([cleanupCli(), s3.close()]);
});

const TZ = 'Asia/Shanghai';
const UPLOAD = `file_stable_seconds: 1\noperational_hours: { enabled: false }\ntimezone: ${TZ}`;

describe('delivery manifests', () => {
  it('list every upload of the day, are rewritten identically, and audit finds a deleted object', async () => {
    const ws = await createWorkspace({
      endpoint: s3.endpoint,
      bucket: s3.bucket,
      upload: UPLOAD,
      extra: 'monitoring: { cloudwatch_enabled: false }',
    });
    const client = s3.client();
    try {
      // A day that ended while the vehicle was offline: the daemon writes its manifest at start.
      const yesterday = dateIn(Date.now() - 86_400_000, TZ);
      const earlier = {
        type: 'uploaded',
        key: `vehicle-TEST-001/${yesterday}/ros/old.log`,
        size: 3,
        sha256: 'b'.repeat(64),
        mtime: '2026-01-01T00:00:00.000Z',
        uploaded_at: '2026-01-01T00:00:00.000Z',
        path: '/old.log',
      };
      await mkdir(join(ws.state, 'manifests'), { recursive: true });
      await writeFile(join(ws.state, 'manifests', `${yesterday}.jsonl`), `${JSON.stringify(earlier)}\n`);
      for (const name of ['a.log', 'b.log', 'c.log'])
        await writeLog(join(ws.logs, 'ros', name), `${name}\n`.repeat(50));

      const agent = await startAgent(cli, ws.config, join(ws.root, 'agent.log'));
      try {
        await agent.waitFor(
          new RegExp(
            `Delivery manifest ${yesterday} written: s3://${s3.bucket}/vehicle-TEST-001/_manifests/${yesterday}\\.jsonl \\(1 line\\(s\\)\\)`,
          ),
        );
        await agent.waitFor(/Uploaded /, 30_000, 3);
      } finally {
        expect(await agent.stop()).toBe(0);
      }
      expect((await stat(join(ws.state, 'manifests', `${yesterday}.sent`))).isFile()).toBe(true);

      const today = dateIn(Date.now(), TZ);
      const written = await runCli(cli, ['manifest', '--config', ws.config, '--json']);
      expect(written.code).toBe(0);
      const key = `vehicle-TEST-001/_manifests/${today}.jsonl`;
      expect(JSON.parse(written.stdout)).toMatchObject({ date: today, key, lines: 3 });
      const body = await (
        await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }))
      ).Body!.transformToString();
      const lines = body
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { key: string; size: number; sha256: string });
      const listed = await client.send(
        new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'vehicle-TEST-001/' }),
      );
      expect(lines.map((l) => [l.key, l.size]).sort()).toEqual(
        (listed.Contents ?? [])
          // Keys are dated by the file's mtime, which may be another local day than the upload's (near midnight).
          .filter((o) => !o.Key!.includes('/_manifests/'))
          .map((o) => [o.Key, o.Size])
          .sort(),
      );
      expect(lines.every((l) => /^[0-9a-f]{64}$/.test(l.sha256))).toBe(true);

      // Idempotent: the same lines again.
      expect((await runCli(cli, ['manifest', '--config', ws.config])).code).toBe(0);
      const again = await (
        await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }))
      ).Body!.transformToString();
      expect(again).toBe(body);

      const agree = await runCli(cli, ['audit', '--date', today, '--config', ws.config]);
      expect(agree).toMatchObject({ code: 0 });
      expect(agree.stdout).toContain(
        `${today}: 3 object(s) match the manifest; 0 missing, 0 extra, 0 differing`,
      );

      const gone = lines[1]!.key;
      await client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: gone }));
      const audit = await runCli(cli, ['audit', '--date', today, '--config', ws.config]);
      expect(audit.code).toBe(1);
      expect(audit.stdout).toContain(`MISSING  ${gone}`);
      const json = await runCli(cli, ['audit', '--date', today, '--config', ws.config, '--json']);
      expect(JSON.parse(json.stdout)).toMatchObject({ agree: false, matched: 2, missing: [{ key: gone }] });

      const none = await runCli(cli, ['audit', '--date', '2001-01-01', '--config', ws.config]);
      expect(none.code).toBe(1);
      expect(none.stderr).toContain('no manifest for 2001-01-01');
      expect((await runCli(cli, ['audit', '--config', ws.config])).code).toBe(2);
    } finally {
      client.destroy();
      await ws.cleanup();
    }
  }, 90_000);

  it('record the files the emergency policy deleted before they were uploaded', async () => {
    // S3 unreachable (port 9) and the disk "full": the queued file goes unsent.
    const ws = await createWorkspace({
      upload: UPLOAD,
      extra: [
        'monitoring: { cloudwatch_enabled: false }',
        'disk:\n  reserved_gb: 0\n  warning_threshold: 0.01\n  critical_threshold: 0.01',
        'deletion:\n  emergency: { enabled: true }',
      ].join('\n'),
    });
    try {
      const file = join(ws.logs, 'ros', 'lost.log');
      await writeLog(file, 'lost\n'.repeat(20));
      const agent = await startAgent(cli, ws.config, join(ws.root, 'agent.log'));
      try {
        await agent.waitFor(/DATA LOSS: .*lost\.log/, 30_000);
      } finally {
        expect(await agent.stop()).toBe(0);
      }
      const journal = await readFile(join(ws.state, 'manifests', `${dateIn(Date.now(), TZ)}.jsonl`), 'utf8');
      expect(
        journal
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as unknown),
      ).toEqual([expect.objectContaining({ type: 'deleted', path: file, size: 100, policy: 'emergency' })]);
    } finally {
      await ws.cleanup();
    }
  }, 60_000);
});
