import { spawnSync } from 'node:child_process';
import { readFile, stat, utimes, writeFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStateStore } from '@tvm/durable-queue';
import {
  startFakeCloudWatch,
  startHttpResponder,
  startLocalS3,
  type FakeCloudWatch,
  type HttpResponder,
  type LocalS3,
} from '@tvm/test-utils';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { writeAgentStatus } from '../src/commands/agent-status.js';
import type { StatusReport } from '../src/commands/status.js';
import {
  buildCli,
  createWorkspace,
  isolatedEnv,
  runCli,
  runFile,
  writeState,
  type Workspace,
} from './ops-harness.js';

const DAY = 24 * 60 * 60 * 1000;
let cli: string;
let launcher: string;
let cleanupCli: () => Promise<void>;

beforeAll(async () => {
  let dir: string;
  ({ cli, dir, cleanup: cleanupCli } = await buildCli());
  launcher = join(dir, 'vehicle', 'bin', 'tvm-upload');
}, 120_000);
afterAll(async () => {
  await cleanupCli();
});

describe('status, queue and failed', () => {
  let ws: Workspace;
  beforeEach(async () => {
    ws = await createWorkspace();
  });
  afterEach(async () => {
    await ws.cleanup();
  });

  it('report an empty state directory that does not exist yet', async () => {
    const status = await runCli(cli, ['status', '--config', ws.config]);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain('agent not running');
    expect(status.stdout).toContain('queue:         0 file(s), 0 B pending');
    expect((await runCli(cli, ['queue', '--config', ws.config])).stdout).toBe('The queue is empty.\n');
    expect((await runCli(cli, ['failed', '--config', ws.config])).stdout).toBe('No failed files.\n');
  });

  it('name a file whose name is not valid UTF-8 by its bytes (\\xNN), and --json by its \\udcXX escapes', async () => {
    const now = Date.now();
    const path = '/logs/terminal/caf\udce9.log'; // café.log in Latin-1
    await writeState(ws.state, {
      failed: [
        {
          filepath: path,
          attempts: 0,
          failedAt: now,
          category: 'file-not-found',
          message: `File not found: ${path}`,
        },
      ],
    });
    const failed = await runCli(cli, ['failed', '--config', ws.config]);
    expect(failed.stdout).toContain('/logs/terminal/caf\\xe9.log');
    expect(failed.stdout).not.toContain('\ufffd');
    const json = await runCli(cli, ['failed', '--json', '--config', ws.config]);
    expect(json.stdout).toContain('caf\\udce9.log');
    expect(JSON.stringify(JSON.parse(json.stdout))).toContain('caf\\udce9.log');
  });

  it('list queued and failed files, in human and --json form', async () => {
    const now = Date.now();
    await writeState(ws.state, {
      queue: [
        {
          filepath: '/logs/ros/run1/launch.log',
          size: 2048,
          detectedAt: now - 3_600_000,
          attempts: 0,
          nextAttemptAt: 0,
        },
        {
          filepath: '/logs/terminal/t.log',
          size: 1024,
          detectedAt: now - 60_000,
          attempts: 3,
          nextAttemptAt: now + 120_000,
          lastError: { category: 'network', message: 'ECONNRESET', at: now - 1000 },
        },
      ],
      failed: [
        {
          filepath: '/logs/terminal/gone.log',
          attempts: 0,
          failedAt: now - 5000,
          category: 'file-not-found',
          message: 'File not found: /logs/terminal/gone.log',
        },
      ],
      registry: [
        {
          filepath: '/logs/ros/old.log',
          size: 10,
          mtimeMs: now - DAY,
          key: 'vehicle-TEST-001/x/ros/old.log',
          uploadedAt: now - 7_200_000,
        },
      ],
    });

    const queue = await runCli(cli, ['queue', '--config', ws.config]);
    expect(queue.code).toBe(0);
    expect(queue.stdout).toMatch(/^SIZE\s+ATTEMPTS\s+NEXT ATTEMPT\s+LAST ERROR\s+PATH$/m);
    expect(queue.stdout).toMatch(/2\.0 KiB\s+0\s+due now\s+\/logs\/ros\/run1\/launch\.log/);
    expect(queue.stdout).toMatch(/3\s+in \d+ (s|min)\s+network: ECONNRESET\s+\/logs\/terminal\/t\.log/);
    expect(queue.stdout).toContain('2 file(s), 3.0 KiB pending');

    const queueJson = JSON.parse(
      (await runCli(cli, ['queue', '--json', '--config', ws.config])).stdout,
    ) as Array<Record<string, unknown>>;
    expect(queueJson.map((e) => e['filepath'])).toEqual([
      '/logs/ros/run1/launch.log',
      '/logs/terminal/t.log',
    ]);
    expect(queueJson[1]).toMatchObject({ attempts: 3, due: false, lastError: { category: 'network' } });

    const failed = await runCli(cli, ['failed', '--config', ws.config]);
    expect(failed.stdout).toMatch(
      /file-not-found: File not found: \/logs\/terminal\/gone\.log\s+\/logs\/terminal\/gone\.log/,
    );
    const failedJson = JSON.parse(
      (await runCli(cli, ['failed', '--config', ws.config, '--json'])).stdout,
    ) as unknown[];
    expect(failedJson).toEqual([
      expect.objectContaining({ filepath: '/logs/terminal/gone.log', category: 'file-not-found' }),
    ]);

    const status = await runCli(cli, ['status', '--config', ws.config]);
    expect(status.stdout).toContain(
      'queue:         2 file(s), 3.0 KiB pending (1 due now, 1 waiting to retry)',
    );
    expect(status.stdout).toContain('oldest:        /logs/ros/run1/launch.log (queued 1 h 0 min ago)');
    expect(status.stdout).toContain('failed:        1 file(s)');
    expect(status.stdout).toMatch(/last upload: .* \/logs\/ros\/old\.log/);
    const json = JSON.parse(
      (await runCli(cli, ['status', '--json', '--config', ws.config])).stdout,
    ) as StatusReport;
    expect(json.queue).toMatchObject({ files: 2, bytes: 3072, dueNow: 1, waitingForRetry: 1 });
    expect(json.failed).toEqual({ files: 1 });
    expect(json.lastUpload).toMatchObject({
      filepath: '/logs/ros/old.log',
      key: 'vehicle-TEST-001/x/ros/old.log',
    });
    expect(json.agent).toMatchObject({ running: false, pid: null });
    expect(json.disk.length).toBeGreaterThan(0);
  });

  it("shows the running agent's own view (destination, next run, metrics) and ignores it once the agent is gone", async () => {
    const store = await openStateStore({
      queueFile: join(ws.state, 'queue.json'),
      registryFile: join(ws.state, 'processed_files.json'),
    });
    const now = Date.now();
    await writeAgentStatus(ws.state, {
      pid: process.pid,
      version: '0.0.0',
      startedAt: now - 60_000,
      updatedAt: now,
      destination: {
        state: 'paused-outage',
        reason: 'ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:9',
        since: now - 30_000,
      },
      nextRunAt: now + 5 * 60_000,
      metricsBuffered: 12,
    });
    try {
      const human = await runCli(cli, ['status', '--config', ws.config]);
      expect(human.stdout).toContain(`agent running (pid ${process.pid})`);
      expect(human.stdout).toMatch(
        /destination: +paused-outage: ECONNREFUSED: connect ECONNREFUSED 127\.0\.0\.1:9 \(since /,
      );
      expect(human.stdout).toMatch(/next run: +every 2 h 0 min; next in (4|5) min/);
      expect(human.stdout).toContain('12 point(s) buffered');
      const json = JSON.parse(
        (await runCli(cli, ['status', '--json', '--config', ws.config])).stdout,
      ) as StatusReport;
      expect(json.destination).toMatchObject({
        state: 'paused-outage',
        reason: expect.stringContaining('ECONNREFUSED'),
      });
      expect(json.metricsBuffered).toBe(12);
    } finally {
      await store.close();
    }
    // No live lock holder: the file is left over from a stopped agent and says nothing about now.
    const after = JSON.parse(
      (await runCli(cli, ['status', '--json', '--config', ws.config])).stdout,
    ) as StatusReport;
    expect(after.agent.running).toBe(false);
    expect(after.destination.state).toBe('agent not running');
    expect(after.metricsBuffered).toBeNull();
  });

  it('exit 2 on a usage error and 1 on an invalid config', async () => {
    const usage = await runCli(cli, ['queue', '--bogus', '--config', ws.config]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('Usage: tvm-upload queue');
    await writeFile(ws.config, 'vehicle_id: v1\n');
    const invalid = await runCli(cli, ['status', '--config', ws.config]);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain('log_directories');
  });
});

describe('requeue', () => {
  let ws: Workspace;
  const failedEntry = (filepath: string) => ({
    filepath,
    attempts: 10,
    failedAt: Date.now(),
    category: 'access-denied',
    message: 'AccessDenied: Access Denied',
  });
  beforeEach(async () => {
    ws = await createWorkspace();
    await writeState(ws.state, {
      queue: [],
      failed: [failedEntry('/logs/a.log'), failedEntry('/logs/b.log'), failedEntry('/logs/c.log')],
    });
  });
  afterEach(async () => {
    await ws.cleanup();
  });

  const queued = async () =>
    (
      JSON.parse(await readFile(join(ws.state, 'queue.json'), 'utf8')) as {
        files: Array<{ filepath: string }>;
      }
    ).files
      .map((f) => f.filepath)
      .sort();

  it('moves named files back to the queue when no agent runs, and rejects a path not on the failed list', async () => {
    const result = await runCli(cli, ['requeue', '/logs/a.log', '/logs/nope.log', '--config', ws.config]);
    expect(result.stdout).toContain('Requeued 1 file(s)');
    expect(result.stderr).toContain('Not in the failed list: /logs/nope.log');
    expect(result.code).toBe(1);
    expect(await queued()).toEqual(['/logs/a.log']);
    const failed = JSON.parse(
      (await runCli(cli, ['failed', '--json', '--config', ws.config])).stdout,
    ) as Array<{ filepath: string }>;
    expect(failed.map((f) => f.filepath).sort()).toEqual(['/logs/b.log', '/logs/c.log']);
  });

  it('--all-failed empties the failed list (--json)', async () => {
    const result = await runCli(cli, ['requeue', '--all-failed', '--json', '--config', ws.config]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ requeued: 3, appliedBy: 'cli', notFailed: [] });
    expect(await queued()).toEqual(['/logs/a.log', '/logs/b.log', '/logs/c.log']);
    const again = await runCli(cli, ['requeue', '--all-failed', '--config', ws.config]);
    expect(again.stdout).toContain('No failed files to requeue.');
  });

  it('hands the request to the process holding the state directory, which applies it without a restart', async () => {
    // This process plays the running agent: it holds the lock and polls for requests, as the daemon does.
    const store = await openStateStore({
      queueFile: join(ws.state, 'queue.json'),
      registryFile: join(ws.state, 'processed_files.json'),
    });
    const timer = setInterval(() => store.pollRequests().catch(() => undefined), 100);
    try {
      const result = await runCli(cli, ['requeue', '/logs/b.log', '--config', ws.config]);
      expect(result.stdout).toContain(`the running agent (pid ${process.pid}) took the request`);
      expect(result.code).toBe(0);
      expect(store.queue.has('/logs/b.log')).toBe(true);
      expect(store.failed.has('/logs/b.log')).toBe(false);
    } finally {
      clearInterval(timer);
      await store.close();
    }
  });
});

describe('verify and alarms apply', () => {
  let s3: LocalS3;
  let cloudwatch: FakeCloudWatch;
  let sts: HttpResponder;
  let env: Record<string, string>;
  beforeAll(async () => {
    s3 = await startLocalS3();
    cloudwatch = await startFakeCloudWatch();
    // STS has no local server: answer GetCallerIdentity as STS does, refusing any key but s3rver's.
    sts = await startHttpResponder((request: IncomingMessage) =>
      /Credential=S3RVER\//.test(String(request.headers['authorization']))
        ? {
            status: 200,
            headers: { 'content-type': 'text/xml' },
            body: '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws-cn:iam::123456789012:user/tvm-upload-service</Arn><UserId>AIDAEXAMPLE</UserId><Account>123456789012</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></GetCallerIdentityResponse>',
          }
        : {
            status: 403,
            headers: { 'content-type': 'text/xml' },
            body: '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message></Error><RequestId>r2</RequestId></ErrorResponse>',
          },
    );
    env = { AWS_ENDPOINT_URL_STS: sts.endpoint, AWS_ENDPOINT_URL_CLOUDWATCH: cloudwatch.endpoint };
  }, 60_000);
  afterAll(async () => {
    await Promise.all([s3.close(), cloudwatch.close(), sts.close()]);
  });

  it('verify passes every check with good credentials and leaves no test object behind', async () => {
    const ws = await createWorkspace({ endpoint: s3.endpoint, bucket: s3.bucket });
    try {
      const result = await runCli(cli, ['verify', '--config', ws.config], env);
      expect(result.stdout).toContain('[PASS] credentials: resolved from profile tvm (access key ****RVER)');
      expect(result.stdout).toContain('[PASS] sts: arn:aws-cn:iam::123456789012:user/tvm-upload-service');
      expect(result.stdout).toContain(`[PASS] bucket: ${s3.bucket} is reachable`);
      expect(result.stdout).toMatch(
        /\[PASS\] write: wrote and read back s3:\/\/test-bucket\/vehicle-TEST-001\/test\//,
      );
      expect(result.stdout).toContain('[PASS] remove');
      expect(result.stdout).toContain('[PASS] cloudwatch');
      expect(result.code).toBe(0);
      const listed = await s3
        .client()
        .send(new (await import('@aws-sdk/client-s3')).ListObjectsV2Command({ Bucket: s3.bucket }));
      expect(listed.KeyCount ?? 0).toBe(0);
      expect(cloudwatch.metricData()).toContainEqual(
        expect.objectContaining({
          MetricName: 'FileCount',
          Value: 0,
          Dimensions: [{ Name: 'VehicleId', Value: 'vehicle-TEST-001' }],
        }),
      );
    } finally {
      await ws.cleanup();
    }
  });

  it('verify exits with the number of failed checks and their classified reasons for a wrong access key id', async () => {
    const ws = await createWorkspace({
      endpoint: s3.endpoint,
      bucket: s3.bucket,
      accessKeyId: 'AKIAWRONGWRONGWRONG1',
    });
    try {
      const result = await runCli(cli, ['verify', '--json', '--config', ws.config], env);
      const report = JSON.parse(result.stdout) as {
        failures: number;
        checks: Array<{ name: string; status: string; error?: { category: string } }>;
      };
      const byName = Object.fromEntries(report.checks.map((c) => [c.name, c]));
      expect(byName['sts']).toMatchObject({ status: 'fail', error: { category: 'invalid-credentials' } });
      expect(byName['bucket']?.status).toBe('fail');
      expect(byName['write']).toMatchObject({ status: 'fail', error: { category: 'invalid-credentials' } });
      expect(byName['remove']?.status).toBe('skip');
      expect(report.failures).toBe(report.checks.filter((c) => c.status === 'fail').length);
      expect(result.code).toBe(report.failures);
      expect(result.code).toBeGreaterThanOrEqual(3);
    } finally {
      await ws.cleanup();
    }
  });

  it('verify reports a missing bucket', async () => {
    const ws = await createWorkspace({ endpoint: s3.endpoint, bucket: 'no-such-bucket' });
    try {
      const result = await runCli(cli, ['verify', '--config', ws.config], env);
      expect(result.stdout).toMatch(
        /\[FAIL\] bucket: bucket no-such-bucket: .*\(bucket-not-found, permanent\)/,
      );
      expect(result.code).toBe(2);
    } finally {
      await ws.cleanup();
    }
  });

  it('verify_aws_credentials.sh and health_check.sh run the same checks through the installed command', async () => {
    const good = await createWorkspace({ endpoint: s3.endpoint, bucket: s3.bucket });
    const bad = await createWorkspace({ endpoint: s3.endpoint, bucket: 'no-such-bucket' });
    const scripts = fileURLToPath(new URL('../../../scripts/', import.meta.url));
    try {
      const env = {
        ...isolatedEnv(),
        TVM_UPLOAD_BIN: launcher,
        AWS_ENDPOINT_URL_STS: sts.endpoint,
        AWS_ENDPOINT_URL_CLOUDWATCH: cloudwatch.endpoint,
      };
      const wrapper = (config: string) =>
        runFile(join(scripts, 'diagnostics/verify_aws_credentials.sh'), ['--config', config], env);
      const ok = await wrapper(good.config);
      expect(ok.stdout).toContain('All checks passed.');
      expect(ok.code).toBe(0);
      const failing = await wrapper(bad.config);
      expect(failing.stdout).toContain('[FAIL] bucket');
      expect(failing.code).toBe(2);

      const health = (ws: Workspace) =>
        runFile(join(scripts, 'deployment/health_check.sh'), [], {
          ...env,
          TVM_CONFIG: ws.config,
          TVM_STATE_DIR: ws.state,
          TVM_SKIP_SERVICE: '1',
          TVM_LOG_FILE: join(ws.root, 'none.log'),
          TVM_DISK_PATHS: ws.root,
        });
      const healthy = await health(good);
      expect(healthy.stdout).toContain('[PASS] aws: tvm-upload verify passed');
      if (spawnSync('sh', ['-c', 'command -v jq']).status === 0) expect(healthy.code).toBe(0);
      const unhealthy = await health(bad);
      expect(unhealthy.stdout).toContain('[FAIL] aws: tvm-upload verify reported 2 failed check(s)');
      expect(unhealthy.stdout).toMatch(/^ {7}\[FAIL\] bucket: bucket no-such-bucket/m);
    } finally {
      await Promise.all([good.cleanup(), bad.cleanup()]);
    }
  });

  it('alarms apply creates the alarms once, then leaves them unchanged', async () => {
    const ws = await createWorkspace({ endpoint: s3.endpoint });
    try {
      const first = await runCli(cli, ['alarms', 'apply', '--json', '--config', ws.config], env);
      expect(first.code).toBe(0);
      const created = (JSON.parse(first.stdout) as { created: string[] }).created;
      expect(created.length).toBeGreaterThan(0);
      expect([...cloudwatch.alarms.keys()]).toEqual(expect.arrayContaining(created));
      const second = await runCli(cli, ['alarms', 'apply', '--config', ws.config], env);
      expect(second.code).toBe(0);
      expect(second.stdout).toMatch(/^unchanged {2}/m);
      expect(second.stdout).not.toMatch(/^created/m);
    } finally {
      await ws.cleanup();
    }
  });
});

describe('cleanup', () => {
  let ws: Workspace;
  beforeEach(async () => {
    ws = await createWorkspace();
  });
  afterEach(async () => {
    await ws.cleanup();
  });

  it('--dry-run lists what the policies would delete and why, deletes nothing; without it deletes', async () => {
    const now = Date.now();
    const old = join(ws.logs, 'ros', 'run1', 'old.log');
    const pending = join(ws.logs, 'terminal', 'pending.log');
    const fresh = join(ws.logs, 'terminal', 'fresh.log');
    await (await import('node:fs/promises')).mkdir(join(ws.logs, 'ros', 'run1'));
    for (const file of [old, pending, fresh]) await writeFile(file, 'x'.repeat(100));
    const tenDaysAgo = new Date(now - 10 * DAY);
    await utimes(old, tenDaysAgo, tenDaysAgo);
    await utimes(pending, new Date(now - 20 * DAY), new Date(now - 20 * DAY));
    const oldStat = await stat(old);
    await writeState(ws.state, {
      queue: [{ filepath: pending, size: 100, detectedAt: now, attempts: 0, nextAttemptAt: 0 }],
      failed: [],
      registry: [{ filepath: old, size: 100, mtimeMs: oldStat.mtimeMs, key: 'k', uploadedAt: now - 8 * DAY }],
    });

    const dry = await runCli(cli, ['cleanup', '--dry-run', '--config', ws.config]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('Would delete 1 file(s)');
    expect(dry.stdout).toMatch(
      /after-upload\s+100 B\s+.*old\.log\s+uploaded 8(\.0)? days ago \(keep_days 7\)/,
    );
    expect(dry.stdout).not.toContain('pending.log');
    expect((await stat(old)).isFile()).toBe(true);
    const dryJson = JSON.parse(
      (await runCli(cli, ['cleanup', '--dry-run', '--json', '--config', ws.config])).stdout,
    ) as {
      entries: Array<{ path: string; policy: string }>;
    };
    expect(dryJson.entries).toEqual([expect.objectContaining({ path: old, policy: 'after-upload' })]);

    const real = await runCli(cli, ['cleanup', '--config', ws.config]);
    expect(real.code).toBe(0);
    expect(real.stdout).toContain('Deleted 1 file(s), freed 100 B.');
    await expect(stat(old)).rejects.toThrow();
    expect((await stat(pending)).isFile()).toBe(true);
    expect((await stat(fresh)).isFile()).toBe(true);
  });
});
