import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  s3ErrorXml,
  startFaultProxy,
  startHttpResponder,
  startLocalS3,
  type FaultProxy,
  type LocalS3,
} from '@tvm/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnAgent } from './e2e-harness.js';
import {
  configDocument,
  makeWorkspace,
  objects,
  stateList,
  until,
  writeConfig,
  writeCredentials,
  writeLog,
} from './helpers.js';

let s3: LocalS3;
let proxy: FaultProxy;
beforeAll(async () => {
  s3 = await startLocalS3({ buckets: ['t01logs'] });
  proxy = await startFaultProxy({ targetPort: s3.port });
});
afterAll(async () => {
  await proxy?.close();
  await s3?.close();
});

describe('tvm-upload run (end to end, errors)', () => {
  it('logs each retry with its delay and gives up after the 10th', async () => {
    const busy = await startHttpResponder(() => ({
      status: 503,
      body: s3ErrorXml('SlowDown', 'Please reduce your request rate.'),
    }));
    const ws = await makeWorkspace();
    const file = join(ws.logs, 'terminal', 'test.log');
    await writeLog(file, 'data');
    await writeConfig(
      ws,
      configDocument(ws, busy.endpoint, 't01logs', {
        upload: { retry: { initial_delay_seconds: 0.01, max_delay_seconds: 0.64 } },
      }),
    );
    const agent = spawnAgent(['run', '--config', ws.configFile]);
    try {
      const line = await agent.waitFor('PERMANENT FAILURE: retries exhausted', 30_000);
      expect(line.startsWith(`PERMANENT FAILURE: retries exhausted (10/10) for ${file}: `)).toBe(true);
      const delays = ['0.01', '0.02', '0.04', '0.08', '0.16', '0.32', '0.64', '0.64', '0.64', '0.64'];
      expect(agent.lines.filter((l) => l.includes('Retry '))).toEqual(
        delays.map((d, i) => `<4>Retry ${i + 1}/10 for test.log (next attempt in ${d}s)`),
      );
      // The state files follow the log line within the commit delay.
      await until(
        async () => (await stateList(ws.state, 'queue.json')).length === 0,
        5_000,
        'an empty queue',
      );
      expect(await stateList(ws.state, 'failed.json')).toMatchObject([
        { filepath: file, category: 'retries-exhausted' },
      ]);
    } finally {
      agent.child.kill('SIGKILL');
      await busy.close();
    }
  });

  it.each([
    [
      'a wrong access key id',
      { profileKey: 'AKIAIOSFODNN7EXAMPLE', bucket: 't01logs' },
      'PERMANENT FAILURE: InvalidAccessKeyId: The AWS Access Key Id you provided does not exist in our records.',
    ],
    [
      'a missing bucket',
      { profileKey: 'S3RVER', bucket: 'no-such-bucket' },
      'PERMANENT FAILURE: NoSuchBucket: The specified bucket does not exist',
    ],
  ])(
    'keeps every file queued on %s, and a restart after the fix uploads them all (defect 3)',
    async (_name, setup, expected) => {
      const ws = await makeWorkspace(setup.profileKey);
      const files = [0, 1, 2, 3, 4, 5].map((i) => join(ws.logs, 'ros', 'run', `f${i}.log`));
      for (const [i, file] of files.entries()) await writeLog(file, `f${i}`, 3_600_000 - i * 60_000);
      await writeConfig(ws, configDocument(ws, s3.endpoint, setup.bucket, { s3: { concurrency: 4 } }));
      const agent = spawnAgent(['run', '--config', ws.configFile]);
      try {
        await agent.waitFor(expected);
        await agent.waitFor('Uploads paused:');
        await agent.waitFor(/^Permanent upload error for f\d\.log: /);
        await new Promise((r) => setTimeout(r, 500));
        expect(agent.text().filter((l) => l.startsWith('PERMANENT FAILURE'))).toEqual([expected]);
        expect(await stateList(ws.state, 'failed.json')).toEqual([]);
        const queued = await stateList(ws.state, 'queue.json');
        expect(queued.map((f) => f.filepath).sort()).toEqual(files);
        expect(queued.every((f) => f['attempts'] === 0)).toBe(true);
        expect(agent.lines.join('\n')).not.toContain('AKIAIOSFODNN7EXAMPLE');
      } finally {
        agent.child.kill('SIGTERM');
        await agent.exited;
      }
      // The runbook's resolution: fix the credentials (or the bucket name), restart.
      await writeCredentials(ws, 'S3RVER');
      await writeConfig(ws, configDocument(ws, s3.endpoint, 't01logs', { s3: { concurrency: 4 } }));
      const again = spawnAgent(['run', '--config', ws.configFile]);
      try {
        await until(
          async () => (await stateList(ws.state, 'queue.json')).length === 0,
          15_000,
          'an empty queue',
        );
        const stored = await objects(s3.client(), 't01logs');
        for (const file of files) {
          const name = file.slice(file.lastIndexOf('/'));
          expect([...stored.keys()].some((key) => key.endsWith(`/ros/run${name}`))).toBe(true);
        }
        expect(await stateList(ws.state, 'failed.json')).toEqual([]);
      } finally {
        again.child.kill('SIGKILL');
      }
    },
  );

  it('waits out an outage longer than the whole retry schedule and then uploads everything', async () => {
    const ws = await makeWorkspace();
    const files = Array.from({ length: 6 }, (_, i) =>
      join(ws.logs, i % 2 ? 'ros' : 'ros2', `n${i}`, `f${i}.log`),
    );
    for (const [i, file] of files.entries()) await writeLog(file, `outage ${i}\n`.repeat(50));
    await writeConfig(
      ws,
      configDocument(ws, proxy.endpoint, 't01logs', {
        upload: { retry: { initial_delay_seconds: 0.05, max_delay_seconds: 0.4 } },
      }),
    );
    await proxy.setMode({ kind: 'refuse' });
    const agent = spawnAgent(['run', '--config', ws.configFile]);
    try {
      await agent.waitFor('Destination unreachable');
      // The retry schedule adds up to about 2.8 s; the outage lasts longer.
      await new Promise((r) => setTimeout(r, 4_000));
      expect(await stateList(ws.state, 'failed.json')).toEqual([]);
      await proxy.setMode({ kind: 'pass' });
      await agent.waitFor('Uploads resumed', 15_000);
      await until(
        async () => (await stateList(ws.state, 'queue.json')).length === 0,
        15_000,
        'an empty queue',
      );
      expect(await stateList(ws.state, 'failed.json')).toEqual([]);
      const stored = await objects(s3.client(), 't01logs');
      for (const file of files) {
        const suffix = file.slice(ws.logs.length + 1).replace(/^(ros2?)\//, '$1/');
        const match = [...stored.entries()].find(([key]) => key.endsWith(suffix));
        expect(match?.[1].equals(await readFile(file))).toBe(true);
      }
      expect(agent.text().filter((l) => l.startsWith('Retry '))).toEqual([]);
      expect(agent.text().some((l) => l.startsWith('PERMANENT'))).toBe(false);
    } finally {
      await proxy.setMode({ kind: 'pass' });
      agent.child.kill('SIGKILL');
    }
  });
});
