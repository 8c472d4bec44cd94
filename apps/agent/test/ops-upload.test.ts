import { stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { objects, stateList, until, useLocalS3, writeLog } from './helpers.js';
import { buildCli, createWorkspace, runCli, startAgent } from './ops-harness.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const s3 = useLocalS3(['incident']);

let cli: string;
let cleanupCli: () => Promise<void>;
beforeAll(async () => {
  ({ cli, cleanup: cleanupCli } = await buildCli());
}, 120_000);
afterAll(async () => {
  await cleanupCli();
});

/** Operational hours that exclude now (UTC): from two hours ahead, for one hour. */
function closedHours(): string {
  const at = (ms: number) => new Date(ms).toISOString().slice(11, 16);
  return `{ enabled: true, start: "${at(Date.now() + 2 * HOUR)}", end: "${at(Date.now() + 3 * HOUR)}" }`;
}

describe('tvm-upload upload (incident uploads)', () => {
  it('needs a running agent', async () => {
    const ws = await createWorkspace({ endpoint: s3.endpoint, bucket: s3.bucket });
    try {
      const result = await runCli(cli, ['upload', '--since', '-1h', '--config', ws.config]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('The agent is not running (nothing answers on its control socket');
      expect(result.stderr).toContain('control.sock); start it (systemctl start tvm-upload) and try again');
      const usage = await runCli(cli, ['upload', '--since', 'soon', '--config', ws.config]);
      expect(usage.code).toBe(2);
      expect(usage.stderr).toContain(
        '--since: cannot read "soon" as a time; expected HH:MM (today, in local)',
      );
    } finally {
      await ws.cleanup();
    }
  });

  it('sends exactly the window, outside operational hours and older than max_age_days, once', async () => {
    const ws = await createWorkspace({
      endpoint: s3.endpoint,
      bucket: s3.bucket,
      upload: [
        'file_stable_seconds: 1',
        'timezone: UTC',
        `operational_hours: ${closedHours()}`,
        'upload_on_start: false',
        'schedule: { mode: interval, interval_hours: 24, interval_minutes: 0 }',
        'scan_existing_files: { enabled: true, max_age_days: 1 }',
      ].join('\n'),
      extra:
        'monitoring: { cloudwatch_enabled: false }\ndeletion: { age_based: { enabled: true, max_age_days: 1 } }',
    });
    const terminal = join(ws.logs, 'terminal');
    const ros = join(ws.logs, 'ros');
    // The window: three days ago, +- 30 minutes. Every file is born now (mtimes set back), so the window judges each
    // by the previous file of its folder.
    const sinceMs = Date.now() - 3 * DAY - 30 * 60_000;
    const untilMs = sinceMs + HOUR;
    await writeLog(join(terminal, 'a-before.log'), 'before\n', 5 * DAY); // last written before the window
    await writeLog(join(terminal, 'b-in.log'), 'in 1\n', 3 * DAY + 10 * 60_000);
    await writeLog(join(terminal, 'c-in.log'), 'in 2\n', 3 * DAY - 10 * 60_000);
    // Written after c-in.log ended inside the window: it may hold the window's last minutes (a rotated successor).
    await writeLog(join(terminal, 'd-successor.log'), 'successor\n', 2 * DAY);
    await writeLog(join(terminal, 'e-after.log'), 'after\n', 2 * DAY - HOUR); // started after the window
    await writeLog(join(terminal, 'f-fresh.log'), 'fresh\n', HOUR); // queued by the scan; waits for the hours
    await writeLog(join(ros, 'run.bag'), Buffer.alloc(64 * 1024, 7), 3 * DAY); // the oldest of its folder
    const wanted = ['b-in.log', 'c-in.log', 'd-successor.log', 'run.bag'];

    const agent = await startAgent(cli, ws.config, join(ws.root, 'agent.log'));
    try {
      await agent.waitFor(/tvm-upload started/);
      await until(() =>
        stat(join(ws.state, 'control.sock')).then(
          () => true,
          () => false,
        ),
      );
      await until(async () => (await stateList(ws.state, 'queue.json')).length === 1, 20_000, 'the scan');

      const window = ['--since', new Date(sinceMs).toISOString(), '--until', new Date(untilMs).toISOString()];
      const unknown = await runCli(cli, ['upload', ...window, '--source', 'nope', '--config', ws.config]);
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toContain(
        'The agent refused the upload request: Unknown source "nope"; the configured sources are terminal, ros',
      );

      const first = await runCli(cli, [
        'upload',
        ...window,
        '--wait',
        '--timeout',
        '60',
        '--config',
        ws.config,
      ]);
      expect(first.stderr).toBe('');
      expect(first.code).toBe(0);
      expect(first.stdout).toContain('4 file(s): 0 in S3, 4 queued');
      for (const name of wanted)
        expect(first.stdout).toMatch(new RegExp(`uploaded .*/${name.replace('.', '\\.')} -> `));
      expect(first.stdout).toContain('Done: every file of the window is in S3 (4 file(s): 4 in S3)');

      const bucket = await objects(s3.client(), s3.bucket);
      expect([...bucket.keys()].map((key) => basename(key)).sort()).toEqual(wanted.sort());
      // The rest stays local: the fresh file waits in the queue for the operational hours.
      expect((await stateList(ws.state, 'queue.json')).map((e) => basename(e.filepath))).toEqual([
        'f-fresh.log',
      ]);
      await stat(join(terminal, 'a-before.log'));
      await stat(join(terminal, 'e-after.log'));

      const second = await runCli(cli, ['upload', ...window, '--wait', '--json', '--config', ws.config]);
      expect(second.code).toBe(0);
      const report = JSON.parse(second.stdout) as {
        ok: boolean;
        request: { state: string; files: Array<{ path: string; state: string; key?: string }> };
      };
      expect(report.ok).toBe(true);
      expect(report.request.state).toBe('done');
      expect(report.request.files.map((f) => [basename(f.path), f.state]).sort()).toEqual(
        wanted.sort().map((name) => [name, 'already-uploaded']),
      );
      expect(agent.output()).toMatch(/Incident upload \w+: 4 file\(s\) .*: 4 already-uploaded/);
      expect((await objects(s3.client(), s3.bucket)).size).toBe(4);
    } finally {
      await agent.stop();
      await ws.cleanup();
    }
  }, 120_000);
});
