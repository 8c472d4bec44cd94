import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  s3ErrorXml,
  startHttpResponder,
  startLocalS3,
  type HttpResponder,
  type LocalS3,
} from '@tvm/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli, createWorkspace, runCli, sh, startAgent, type Workspace } from './ops-harness.js';

// The runbook (shared/seed/error_handling_guide.md) reads the journal; here the agent's output is captured to a
// file, which holds the same lines journald would, and the runbook's commands run against it unchanged.
const healthCheck = fileURLToPath(new URL('../../../scripts/deployment/health_check.sh', import.meta.url));
const hasJq = spawnSync('sh', ['-c', 'command -v jq']).status === 0;

let cli: string;
let cleanupCli: () => Promise<void>;
beforeAll(async () => {
  ({ cli, cleanup: cleanupCli } = await buildCli());
}, 120_000);
afterAll(async () => {
  await cleanupCli();
});

/** Runs `tvm-upload status` until its output matches (the agent rewrites its status file every 10 s). */
async function statusUntil(config: string, pattern: RegExp, timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let output = (await runCli(cli, ['status', '--config', config])).stdout;
  while (!pattern.test(output) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    output = (await runCli(cli, ['status', '--config', config])).stdout;
  }
  return output;
}

describe("the runbook's commands against a real agent run", () => {
  let unavailable: HttpResponder;
  let s3: LocalS3;
  beforeAll(async () => {
    unavailable = await startHttpResponder(() => ({
      status: 503,
      body: s3ErrorXml('ServiceUnavailable', 'Please reduce your request rate.'),
    }));
    s3 = await startLocalS3();
  });
  afterAll(async () => {
    await Promise.all([unavailable.close(), s3.close()]);
  });

  it('temporary errors: Retry lines, and the queue seen through jq', async (ctx) => {
    if (!hasJq) {
      process.stdout.write('SKIP: jq is not installed (apt-get install -y jq)\n');
      ctx.skip();
    }
    const ws: Workspace = await createWorkspace({
      endpoint: unavailable.endpoint,
      upload:
        'file_stable_seconds: 1\noperational_hours: { enabled: false }\nretry: { initial_delay_seconds: 30 }',
      extra: 'monitoring: { cloudwatch_enabled: false }',
    });
    const files = ['test.log', 'file1.log', 'file2.log'].map((name) => join(ws.logs, 'terminal', name));
    for (const file of files) await writeFile(file, `log ${file}\n`);
    const agent = await startAgent(cli, ws.config, join(ws.root, 'agent.log'));
    try {
      await agent.waitFor(/Retry 1\/10 for /, 30_000, 3);
      const queue = join(ws.state, 'queue.json');

      // "Count pending files" and "See which files are queued" (queue.json follows the log lines within 250 ms).
      const count = async () =>
        (await sh(`cat ${queue} | jq '[.files[] | select(.attempts == 1)] | length'`)).stdout.trim();
      for (let i = 0; i < 50 && (await count()) !== '3'; i++) await new Promise((r) => setTimeout(r, 100));
      expect((await sh(`cat ${queue} | jq '.files | length'`)).stdout.trim()).toBe('3');
      const listed = (await sh(`cat ${queue} | jq '.files[].filepath'`)).stdout.trim().split('\n').sort();
      expect(listed).toEqual(files.map((f) => JSON.stringify(f)).sort());

      // "View recent retry attempts", "Count retry attempts", "See which files are failing temporarily".
      const retries = (await sh(`cat ${agent.logFile} | grep "Retry"`)).stdout.trim().split('\n');
      expect(retries).toHaveLength(3);
      for (const line of retries)
        expect(line).toMatch(/Retry 1\/10 for (test|file1|file2)\.log \(next attempt in 30s\)$/);
      expect((await sh(`cat ${agent.logFile} | grep -c "Retry"`)).stdout.trim()).toBe('3');
      // The runbook's awk prints the last word of each line; with our wording that is the delay, once per file.
      expect(
        (await sh(`cat ${agent.logFile} | grep "Retry" | awk '{print $NF}' | sort | uniq -c`)).stdout.trim(),
      ).toMatch(/^3 30s\)$/);
      expect((await sh(`cat ${agent.logFile} | grep -c "PERMANENT FAILURE"`)).stdout.trim()).toBe('0');

      // The health check reads the same file and counts the queue the same way.
      const health = await sh(
        `TVM_STATE_DIR=${ws.state} TVM_SKIP_SERVICE=1 TVM_SKIP_VERIFY=1 TVM_LOG_FILE=${agent.logFile} TVM_DISK_PATHS=${ws.root} ${healthCheck}`,
      );
      expect(health.stdout).toContain('[PASS] queue: 3 files pending');
      expect(health.code).toBe(0);
    } finally {
      expect(await agent.stop()).toBe(0);
      await ws.cleanup();
    }
    // After a clean stop the queue is still on disk: the files upload at the next start.
  });

  it('permanent errors: PERMANENT FAILURE lines, the queue kept whole, and the fixed credentials picked up', async (ctx) => {
    if (!hasJq) {
      process.stdout.write('SKIP: jq is not installed (apt-get install -y jq)\n');
      ctx.skip();
    }
    const ws = await createWorkspace({
      endpoint: s3.endpoint,
      bucket: s3.bucket,
      accessKeyId: 'AKIAWRONGWRONGWRONG1',
      upload: 'file_stable_seconds: 1\noperational_hours: { enabled: false }',
      extra: 'monitoring: { cloudwatch_enabled: false }',
    });
    const file = join(ws.logs, 'terminal', 'test.log');
    const other = join(ws.logs, 'ros', 'launch.log');
    await writeFile(file, 'hello\n');
    // Written later, so it queues behind test.log and meets the paused destination instead of the bad key.
    setTimeout(() => writeFile(other, 'world\n').catch(() => undefined), 1500);
    const agent = await startAgent(cli, ws.config, join(ws.root, 'agent.log'));
    try {
      await agent.waitFor(/PERMANENT FAILURE/);
      await agent.waitFor(/Permanent upload error/);
      // "Find all permanent failures", "Get detailed error messages", "Daily error check".
      const permanent = (await sh(`cat ${agent.logFile} | grep "PERMANENT FAILURE"`)).stdout.trim();
      expect(permanent).toMatch(/PERMANENT FAILURE: InvalidAccessKeyId: /);
      expect((await sh(`cat ${agent.logFile} | grep "Permanent upload error"`)).stdout).toMatch(
        /Permanent upload error for test\.log: /,
      );
      expect((await sh(`cat ${agent.logFile} | grep -A 5 "PERMANENT FAILURE"`)).code).toBe(0);
      expect((await sh(`cat ${agent.logFile} | grep "PERMANENT FAILURE" | wc -l`)).stdout.trim()).toBe('1');
      expect((await sh(`cat ${agent.logFile} | grep -E "PERMANENT|Retry 10/10" | wc -l`)).stdout.trim()).toBe(
        '1',
      );

      // The queue pauses on the destination error; status says so, with the reason. No file is set aside: the error
      // is the destination's, so the whole queue waits for the fix. The agent refreshes its status file every 10 s.
      await agent.waitFor(/Queued \S+launch\.log/);
      const paused = await statusUntil(ws.config, /paused-destination/);
      expect(paused).toMatch(/destination: +paused-destination: InvalidAccessKeyId/);
      expect(paused).toMatch(/queue: +2 file\(s\)/);
      const failed = await runCli(cli, ['failed', '--json', '--config', ws.config]);
      expect(JSON.parse(failed.stdout)).toEqual([]);

      // Scenario 2's fix: correct the credentials. The agent notices the changed file and re-checks by itself.
      await writeFile(
        join(ws.root, '.aws', 'credentials'),
        '[tvm]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n',
      );
      await agent.waitFor(/Uploaded \S+test\.log to s3:\/\//, 30_000);
      await agent.waitFor(/Uploaded \S+launch\.log to s3:\/\//, 30_000);
      // The log line comes first, the durable queue write right after it.
      const queueLength = () => sh(`cat ${join(ws.state, 'queue.json')} | jq '.files | length'`);
      for (let i = 0; i < 50 && (await queueLength()).stdout.trim() !== '0'; i++)
        await new Promise((r) => setTimeout(r, 100));
      expect((await queueLength()).stdout.trim()).toBe('0');
      expect(JSON.parse((await runCli(cli, ['failed', '--json', '--config', ws.config])).stdout)).toEqual([]);
      await statusUntil(ws.config, /destination: +online/);
      const status = JSON.parse((await runCli(cli, ['status', '--json', '--config', ws.config])).stdout) as {
        agent: { running: boolean; pid: number };
        destination: { state: string };
        lastUpload: { filepath: string };
      };
      expect(status.agent).toMatchObject({ running: true, pid: agent.pid });
      expect(status.destination.state).toBe('online');
      expect([file, other]).toContain(status.lastUpload.filepath);
    } finally {
      expect(await agent.stop()).toBe(0);
      await ws.cleanup();
    }
  });
});
