import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fillFilesystem, startFaultProxy, type FaultProxy } from '@tvm/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnAgent } from './e2e-harness.js';
import {
  configDocument,
  makeWorkspace,
  objects,
  registeredCount,
  stateList,
  until,
  useLocalS3,
  writeConfig,
  writeLog,
} from './helpers.js';

const s3 = useLocalS3();
let proxy: FaultProxy;
beforeAll(async () => {
  proxy = await startFaultProxy({ targetPort: s3.port });
});
afterAll(async () => {
  await proxy?.close();
});

const DAY = 86_400_000;

describe('tvm-upload run (end to end, the state files)', () => {
  it('merges an operator edit of queue.json made while it runs, instead of overwriting it (defect 5)', async () => {
    const ws = await makeWorkspace();
    const waiting = join(ws.logs, 'terminal', 'waiting.log');
    // Older than the scans' horizon: only the operator's edit queues it (the runbook's "Option 3").
    const forgotten = join(ws.logs, 'terminal', 'forgotten.log');
    await writeLog(waiting, 'waits out the outage');
    await writeLog(forgotten, 'queued by hand', 5 * DAY);
    await writeConfig(ws, configDocument(ws, proxy.endpoint, 't01logs'));
    await proxy.setMode({ kind: 'refuse' });
    const agent = spawnAgent(['run', '--config', ws.configFile]);
    try {
      await agent.waitFor('Destination unreachable');
      await until(async () => (await stateList(ws.state, 'queue.json')).length === 1, 10_000, 'queue.json');
      const file = join(ws.state, 'queue.json');
      const document = JSON.parse(await readFile(file, 'utf8')) as { files: object[] };
      document.files.push({ filepath: forgotten, source: 'terminal', attempts: 0, nextAttemptAt: 0 });
      await writeFile(file, JSON.stringify(document, null, 2));
      await agent.waitFor('queue.json was edited outside the agent: merged 1 added', 15_000);
      await proxy.setMode({ kind: 'pass' });
      await until(
        async () => (await stateList(ws.state, 'queue.json')).length === 0,
        20_000,
        'an empty queue',
      );
      const keys = [...(await objects(s3.client(), 't01logs')).keys()];
      expect(keys.some((k) => k.endsWith('/terminal/forgotten.log'))).toBe(true);
      expect(keys.some((k) => k.endsWith('/terminal/waiting.log'))).toBe(true);
    } finally {
      await proxy.setMode({ kind: 'pass' });
      agent.child.kill('SIGKILL');
    }
  });

  // A state filesystem that really fills up: a small tmpfs (root may mount one). Skipped with the reason elsewhere.
  describe('on a full state filesystem (a real 2 MiB tmpfs) (defect 7)', () => {
    let mountPoint = '';
    let why = '';
    beforeAll(async () => {
      mountPoint = await realpath(await mkdtemp(join(tmpdir(), 'agent-state-tmpfs-')));
      try {
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mountPoint], { stdio: 'pipe' });
      } catch (error) {
        why = error instanceof Error ? (error.message.split('\n')[0] ?? error.message) : String(error);
        console.warn(`SKIP full-state-disk end-to-end test: mounting a tmpfs is not permitted here (${why})`);
      }
    });
    afterAll(() => {
      if (!why) execFileSync('umount', [mountPoint]);
    });

    it(
      'starts, keeps uploading, restarts and stops cleanly, then writes its state once space returns',
      { timeout: 150_000 },
      async (context) => {
        if (why) context.skip();
        const ws = await makeWorkspace();
        const state = join(mountPoint, 'state');
        await mkdir(state);
        const document = configDocument(ws, s3.endpoint, 't01logs');
        (document['upload'] as Record<string, unknown>)['queue_file'] = join(state, 'queue.json');
        (document['upload'] as Record<string, unknown>)['processed_files_registry'] = {
          registry_file: join(state, 'processed_files.json'),
        };
        await writeConfig(ws, document);
        const filler = join(mountPoint, 'filler');
        await fillFilesystem(filler);

        const first = spawnAgent(['run', '--config', ws.configFile]);
        const fresh = join(ws.logs, 'ros', 'run', 'fresh.log');
        try {
          await first.waitFor('tvm-upload started', 40_000);
          await writeLog(fresh, 'written while the state disk is full', 0);
          await first.waitFor(/^Uploaded .*fresh\.log/, 40_000);
          expect(
            [...(await objects(s3.client(), 't01logs')).keys()].some((k) => k.endsWith('/fresh.log')),
          ).toBe(true);
          await first.waitFor('Writing the state failed; keeping it in memory', 10_000);
          await new Promise((r) => setTimeout(r, 3_000)); // retries go on meanwhile, without a line each
          // A restart while the disk is still full: the stop finishes, the new process starts.
          const stopping = Date.now();
          first.child.kill('SIGTERM');
          expect(await first.exited).toBe(0);
          expect(Date.now() - stopping).toBeLessThan(9_000); // within the unit's stop budget
        } finally {
          first.child.kill('SIGKILL');
        }
        // One line when writing first fails, then at most one a minute (not one per retry), and the losses at stop.
        expect(
          first.text().filter((l) => l.startsWith('Writing the state failed; keeping it in memory')),
        ).toHaveLength(1);

        const second = spawnAgent(['run', '--config', ws.configFile]);
        try {
          await second.waitFor('tvm-upload started', 40_000);
          await second.waitFor(/^Uploaded .*fresh\.log/, 40_000); // its registry record was lost with the stop
          await rm(filler);
          await until(async () => (await registeredCount(state)) === 1, 20_000, 'the registry written');
          expect(await stateList(state, 'queue.json')).toEqual([]);
          expect((await stat(join(state, 'tvm-upload.lock'))).isFile()).toBe(true);
          second.child.kill('SIGTERM');
          expect(await second.exited).toBe(0);
          // Checked once stopped: a running agent may be in the middle of an atomic write.
          expect((await readdir(state)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
        } finally {
          second.child.kill('SIGKILL');
        }
        expect(
          first
            .text()
            .concat(second.text())
            .some((l) => l.includes('Unhandled') || l.includes('at async')),
        ).toBe(false);
      },
    );
  });
});
