import { existsSync } from 'node:fs';
import { mkdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startLocalS3, type LocalS3 } from '@tvm/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnAgent } from './e2e-harness.js';
import { configDocument, makeWorkspace, objects, stateList, until, writeConfig } from './helpers.js';

let s3: LocalS3;
beforeAll(async () => {
  s3 = await startLocalS3({ buckets: ['t01logs'] });
});
afterAll(async () => {
  await s3?.close();
});

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

describe('tvm-upload run with a file name that is not valid UTF-8 (end to end)', () => {
  it('uploads a GBK-named file under its percent-bytes key, logs it as \\xNN and deletes it after upload', async () => {
    const ws = await makeWorkspace();
    // 测试.log in GBK, written by its bytes.
    const bytes = Buffer.concat([
      Buffer.from(join(ws.logs, 'terminal/')),
      Buffer.from([0xb2, 0xe2, 0xca, 0xd4]),
      Buffer.from('.log'),
    ]);
    const body = Buffer.from('a log line from a GBK system\n'.repeat(50));
    await mkdir(join(ws.logs, 'terminal'));
    await writeFile(bytes, body);
    const mtime = Date.now() - 3_600_000;
    await utimes(bytes, mtime / 1000, mtime / 1000);
    await writeConfig(
      ws,
      configDocument(ws, s3.endpoint, 't01logs', {
        deletion: { after_upload: { enabled: true, keep_days: 0 } },
      }),
    );
    const shown = `${join(ws.logs, 'terminal')}/\\xb2\\xe2\\xca\\xd4.log`;
    const key = `vehicle-CN-001/${day(mtime)}/terminal/%B2%E2%CA%D4.log`;

    const agent = spawnAgent(['run', '--config', ws.configFile]);
    try {
      await agent.waitFor(`Uploaded ${shown} to s3://t01logs/${key} (${body.length} bytes)`);
      await agent.waitFor(`Deleted ${shown} (${body.length} bytes)`);
      expect(existsSync(bytes)).toBe(false);
      expect((await objects(s3.client(), 't01logs')).get(key)?.equals(body)).toBe(true);
      await until(
        async () => (await stateList(ws.state, 'queue.json')).length === 0,
        10_000,
        'an empty queue',
      );
      // The registry holds the name as a JSON \udcXX escape per byte: valid JSON, read back to the same bytes. While
      // the daemon runs, the record is in the registry's journal (the snapshot is compacted at the latest at stop).
      const registry = (
        await Promise.all(
          ['processed_files.json', 'processed_files.journal'].map((name) =>
            readFile(join(ws.state, name), 'utf8').catch(() => ''),
          ),
        )
      ).join('\n');
      expect(registry).toContain('\\udcb2\\udce2\\udcca\\udcd4.log');
      expect(agent.text().join('\n')).not.toContain('\ufffd');
    } finally {
      agent.child.kill('SIGTERM');
    }
    expect(await agent.exited).toBe(0);
  });
});
