import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readStateSnapshot } from '@tvm/durable-queue';
import { describe, expect, it } from 'vitest';
import { spawnAgent, type AgentProcess } from './e2e-harness.js';
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

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

describe('tvm-upload run (end to end)', () => {
  it('uploads four sources, keeps ROS folders, reads the old queue, and handles signals and a second instance', async () => {
    const ws = await makeWorkspace();
    const mtime = Date.now() - 3_600_000;
    const run = '2025-10-20-15-30-00-123456-host-6789';
    const files: Record<string, string> = {
      [join(ws.logs, 'terminal', 'session.log')]: `vehicle-CN-001/${day(mtime)}/terminal/session.log`,
      [join(ws.logs, 'ros', run, 'launch.log')]: `vehicle-CN-001/${day(mtime)}/ros/${run}/launch.log`,
      [join(ws.logs, 'ros', run, 'nodes', 'rosout.log')]:
        `vehicle-CN-001/${day(mtime)}/ros/${run}/nodes/rosout.log`,
      [join(ws.logs, 'syslog', 'syslog.1')]: `vehicle-CN-001/${day(mtime)}/syslog/syslog.1`,
      [join(ws.logs, 'ros2', 'planner', 'log.txt')]: `vehicle-CN-001/${day(mtime)}/ros2/planner/log.txt`,
      [join(ws.logs, 'ros2', 'legacy.log')]: `vehicle-CN-001/${day(mtime)}/ros2/legacy.log`,
    };
    for (const [i, path] of Object.keys(files).entries())
      await writeLog(path, `${path}\n`.repeat(100 * (i + 1)));
    await writeLog(join(ws.logs, 'syslog', 'syslog'), 'the live syslog is never uploaded');
    await writeLog(join(ws.logs, 'ros', '.hidden.log'), 'hidden');
    // The old daemon's bare-array queue, with one file deleted since (logrotate got there first).
    const gone = join(ws.logs, 'terminal', 'gone.log');
    await writeFile(
      join(ws.state, 'queue.json'),
      JSON.stringify([
        {
          filepath: join(ws.logs, 'ros2', 'legacy.log'),
          size: 1,
          detected_at: '2025-10-14T15:30:00.123456',
          attempts: 0,
        },
        { filepath: gone, size: 10, detected_at: '2025-10-14T15:30:01.000000', attempts: 0 },
      ]),
    );
    const document = configDocument(ws, s3.endpoint, 't01logs');
    (document['log_directories'] as Array<Record<string, unknown>>)[2] = {
      path: join(ws.logs, 'syslog'),
      source: 'syslog',
      pattern: 'syslog.[1-9]*',
      recursive: false,
      allow_deletion: false,
    };
    await writeConfig(ws, document);

    const agent = spawnAgent(['run', '--config', ws.configFile]);
    let second: AgentProcess | undefined;
    try {
      await agent.waitFor('tvm-upload started');
      await agent.waitFor(`PERMANENT FAILURE: File not found: ${gone}`);
      expect(agent.lines).toContain(`<3>PERMANENT FAILURE: File not found: ${gone}`);
      // The second line may arrive in a later chunk of the pipe than the first.
      await agent.waitFor(/^Permanent upload error for gone\.log: ENOENT: no such file or directory/);
      await until(
        async () => (await stateList(ws.state, 'queue.json')).length === 0,
        20_000,
        'an empty queue',
      );

      const stored = await objects(s3.client(), 't01logs');
      expect([...stored.keys()].sort()).toEqual(Object.values(files).sort());
      for (const [path, key] of Object.entries(files))
        expect(stored.get(key)?.equals(await readFile(path))).toBe(true);
      // The runbook's `jq '.files[].filepath'` on the failed list and `jq '.files | length'` on the queue.
      expect((await stateList(ws.state, 'failed.json')).map((f) => f.filepath)).toEqual([gone]);
      // The registry as the CLI reads it while the daemon runs: the snapshot with its journal replayed.
      const { registry } = await readStateSnapshot({ directory: ws.state });
      expect(registry.map((f) => f.filepath).sort()).toEqual(Object.keys(files).sort());

      // A second daemon on the same state directory refuses to start, naming the first.
      second = spawnAgent(['run', '--config', ws.configFile]);
      expect(await second.exited).toBe(1);
      expect(second.text().join('\n')).toContain(String(agent.pid));

      // A file still being written is uploaded once, complete.
      const growing = join(ws.logs, 'terminal', 'growing.log');
      let expected = '';
      for (let i = 0; i < 8; i++) {
        const line = `line ${i} ${'x'.repeat(100)}\n`;
        expected += line;
        await appendFile(growing, line);
        await new Promise((r) => setTimeout(r, 300));
      }
      await agent.waitFor(`Uploaded ${growing}`);
      const growingKey = `vehicle-CN-001/${day(Date.now())}/terminal/growing.log`;
      expect((await objects(s3.client(), 't01logs')).get(growingKey)?.toString()).toBe(expected);
      expect(agent.text().filter((l) => l.startsWith(`Uploaded ${growing}`))).toHaveLength(1);

      // SIGHUP with a broken config: rejected with the reason, the daemon keeps working.
      await writeFile(
        ws.configFile,
        (await readFile(ws.configFile, 'utf8')).replace('file_stable_seconds: 1', 'file_stable_seconds: -1'),
      );
      agent.child.kill('SIGHUP');
      await agent.waitFor('Configuration reload rejected');
      await agent.waitFor(
        /upload\.file_stable_seconds \(line \d+, column \d+\): must be an integer >= 0, got -1/,
      );
      const after = join(ws.logs, 'ros', run, 'after-reload.log');
      await writeLog(after, 'still running', 0);
      await agent.waitFor(`Uploaded ${after}`);

      // A valid config goes live: here a new log directory, watched from then on.
      const extra = join(ws.logs, 'extra');
      await mkdir(extra);
      await writeFile(
        ws.configFile,
        (await readFile(ws.configFile, 'utf8'))
          .replace('file_stable_seconds: -1', 'file_stable_seconds: 1')
          .replace('log_directories:\n', `log_directories:\n  - path: ${extra}\n    source: extra\n`),
      );
      agent.child.kill('SIGHUP');
      await agent.waitFor('Configuration reloaded');
      const late = join(extra, 'late.log');
      await writeLog(late, 'after a valid reload', 0);
      await agent.waitFor(`Uploaded ${late} to s3://t01logs/vehicle-CN-001/`);

      const stoppedAt = Date.now();
      agent.child.kill('SIGTERM');
      expect(await agent.exited).toBe(0);
      expect(Date.now() - stoppedAt).toBeLessThan(10_000);
      expect(agent.text()).toContain('Stopped');
      expect(agent.lines.every((l) => /^<[3467]>/.test(l))).toBe(true);
    } finally {
      agent.child.kill('SIGKILL');
      second?.child.kill('SIGKILL');
    }
  });
});
