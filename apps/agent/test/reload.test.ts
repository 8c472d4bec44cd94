import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlRequest } from '../src/control/index.js';
import { until } from './helpers.js';
import { buildCli, createWorkspace, runCli, startAgent } from './ops-harness.js';

// `tvm-upload reload` is the unit's ExecReload=: its exit code is what `systemctl reload` reports.
let cli: string;
let cleanupCli: () => Promise<void>;
beforeAll(async () => {
  ({ cli, cleanup: cleanupCli } = await buildCli());
}, 120_000);
afterAll(async () => {
  await cleanupCli();
});

describe('tvm-upload reload', () => {
  it('exits 1 for an invalid config (the agent keeps running), 0 once the agent runs with a valid one', async () => {
    const ws = await createWorkspace({
      upload: 'file_stable_seconds: 1\noperational_hours: { enabled: false }',
      extra: 'monitoring: { cloudwatch_enabled: false }',
    });
    const agent = await startAgent(cli, ws.config, join(ws.root, 'agent.log'));
    try {
      await agent.waitFor(/tvm-upload started/);
      // The control channel the commands that change the running agent use.
      // It opens right after the start-up line.
      const socket = join(ws.state, 'control.sock');
      await until(() =>
        stat(socket).then(
          () => true,
          () => false,
        ),
      );
      const who = await controlRequest(socket, 'GET', '/v1/agent');
      expect(who).toMatchObject({ status: 200, body: { pid: agent.pid } });
      const good = await readFile(ws.config, 'utf8');

      await writeFile(ws.config, good.replace('region: cn-north-1', "region: ''"));
      const refused = await runCli(cli, ['reload', '--config', ws.config, '--pid', String(agent.pid)]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(
        `Reload refused: ${ws.config} is invalid; the running configuration stays`,
      );
      expect(refused.stderr).toContain('s3.region');

      await writeFile(
        ws.config,
        good.replace('vehicle_id: vehicle-TEST-001', 'vehicle_id: vehicle-TEST-002'),
      );
      // Without --pid it finds the agent through the state directory's lock.
      const reloaded = await runCli(cli, ['reload', '--config', ws.config]);
      expect(reloaded).toMatchObject({
        code: 0,
        stdout: `Reloaded: the agent (pid ${agent.pid}) runs with ${ws.config}\n`,
      });
      await agent.waitFor(/tvm-upload started: vehicle vehicle-TEST-002/);
      const answer = JSON.parse(await readFile(join(ws.state, 'reload-result.json'), 'utf8')) as Record<
        string,
        unknown
      >;
      expect(answer).toMatchObject({ pid: agent.pid, seq: 1, ok: true });
    } finally {
      expect(await agent.stop()).toBe(0);
      await ws.cleanup();
    }
  });

  it('exits 1 when no agent runs, and 2 on bad arguments', async () => {
    const ws = await createWorkspace();
    try {
      const none = await runCli(cli, ['reload', '--config', ws.config]);
      expect(none.code).toBe(1);
      expect(none.stderr).toContain('No running agent holds the state directory');
      expect((await runCli(cli, ['reload', '--config', ws.config, '--pid', 'x'])).code).toBe(2);
    } finally {
      await ws.cleanup();
    }
  });
});
