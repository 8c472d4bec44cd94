import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnAgent } from './e2e-harness.js';
import {
  configDocument,
  makeWorkspace,
  objects,
  stateList,
  until,
  writeConfig,
  writeLog,
  useLocalS3,
} from './helpers.js';

const s3 = useLocalS3();

const DAY = 86_400_000;

describe('tvm-upload run (end to end, data safety)', () => {
  it('re-queues failed files younger than scan_existing_files.max_age_days at start, one attempt each (defect 4)', async () => {
    const ws = await makeWorkspace();
    const recent = join(ws.logs, 'terminal', 'recent.log');
    const old = join(ws.logs, 'terminal', 'old.log');
    await writeLog(recent, 'failed yesterday, fine now', DAY);
    await writeLog(old, 'too old to retry', 5 * DAY);
    // What an earlier run left: both failed after ten retries.
    const failed = (path: string) => ({
      filepath: path,
      category: 'retries-exhausted',
      message: 'SlowDown: Please reduce your request rate.',
      attempts: 11,
      failedAt: Date.now() - DAY,
      source: 'terminal',
    });
    await writeFile(join(ws.state, 'failed.json'), JSON.stringify({ files: [failed(recent), failed(old)] }));
    await writeConfig(
      ws,
      configDocument(ws, s3.endpoint, 't01logs', { upload: { scan_existing_files: { max_age_days: 3 } } }),
    );
    const agent = spawnAgent(['run', '--config', ws.configFile]);
    try {
      await agent.waitFor(
        `Startup scan: re-queued 1 file(s) from the failed list for one new attempt each: ${recent}`,
      );
      await agent.waitFor(/^Uploaded .*recent\.log/);
      const stored = await objects(s3.client(), 't01logs');
      expect([...stored.keys()].some((k) => k.endsWith('/terminal/recent.log'))).toBe(true);
      expect([...stored.keys()].some((k) => k.endsWith('/terminal/old.log'))).toBe(false);
      expect((await stateList(ws.state, 'failed.json')).map((f) => f.filepath)).toEqual([old]);
    } finally {
      agent.child.kill('SIGKILL');
    }
  });

  it('refuses hand-edited entries outside the log directories and files behind a symlinked directory (defect 6)', async () => {
    const ws = await makeWorkspace();
    const outside = join(ws.root, 'secret', 'hostname');
    await writeLog(outside, 'not a log');
    await mkdir(join(ws.logs, 'terminal'), { recursive: true });
    await symlink(join(ws.root, 'secret'), join(ws.logs, 'terminal', 'sub'));
    const escaping = `${join(ws.logs, 'terminal')}/../../secret/hostname`;
    const throughLink = join(ws.logs, 'terminal', 'sub', 'hostname');
    const entry = (filepath: string) => ({ filepath, source: 'terminal', attempts: 0, nextAttemptAt: 0 });
    await writeFile(
      join(ws.state, 'queue.json'),
      JSON.stringify({ files: [entry(escaping), entry(outside), entry(throughLink)] }),
    );
    await writeConfig(ws, configDocument(ws, s3.endpoint, 't01logs'));
    const agent = spawnAgent(['run', '--config', ws.configFile]);
    try {
      await until(
        async () => (await stateList(ws.state, 'failed.json')).length === 3,
        15_000,
        'three refusals',
      );
      expect(agent.text()).toContain(
        `Rejected queue entry ${JSON.stringify(escaping)}: not a normalised path (it would be ${outside}); "." and ".." components are not followed`,
      );
      expect(agent.text()).toContain(
        `Rejected queue entry ${JSON.stringify(outside)}: not under any configured log directory`,
      );
      expect(agent.text().some((l) => l.startsWith('Permanent upload error for hostname:'))).toBe(true);
      // The bucket is shared with the other tests of this file: nothing named hostname may be in it.
      const keys = [...(await objects(s3.client(), 't01logs')).keys()];
      expect(keys.filter((k) => k.includes('hostname'))).toEqual([]);
      expect(await readFile(outside, 'utf8')).toBe('not a log');
    } finally {
      agent.child.kill('SIGKILL');
    }
  });
});
