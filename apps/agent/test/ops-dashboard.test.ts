import { startFakeCloudWatch, type FakeCloudWatch } from '@tvm/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alarmsCommand } from '../src/commands/alarms.js';
import { dashboardCommand } from '../src/commands/dashboard.js';
import type { CommandIo } from '../src/commands/shared.js';
import { createWorkspace, type Workspace } from './ops-harness.js';

/** The command's output, captured. */
function captureIo(): CommandIo & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    isTty: false,
    now: Date.now,
    stdout: (text: string) => void (io.out += text),
    stderr: (text: string) => void (io.err += text),
  };
  return io;
}

const fast = { initialDelayMs: 1, maxDelayMs: 2 };
let cloudwatch: FakeCloudWatch;
let ws: Workspace;
const saved: Record<string, string | undefined> = {};

beforeAll(async () => {
  cloudwatch = await startFakeCloudWatch();
  ws = await createWorkspace({ extra: 'monitoring:\n  publish_interval_seconds: 90' });
  // The SDK's own endpoint setting, as an operator would use it; real SDK clients, real wire protocol.
  for (const [name, value] of Object.entries({
    AWS_ENDPOINT_URL_CLOUDWATCH: cloudwatch.endpoint,
    AWS_EC2_METADATA_DISABLED: 'true',
  })) {
    saved[name] = process.env[name];
    process.env[name] = value;
  }
});
afterAll(async () => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await cloudwatch.close();
  await ws.cleanup();
});

describe('dashboardCommand (tvm-upload dashboard apply)', () => {
  it('creates the dashboard, then prints "unchanged" and writes nothing; --name and --json', async () => {
    const first = captureIo();
    expect(await dashboardCommand(['apply', '--config', ws.config], first, fast)).toBe(0);
    expect(first.out).toBe('created    TVM-Upload-vehicle-TEST-001\n');
    const body = JSON.parse(cloudwatch.dashboards.get('TVM-Upload-vehicle-TEST-001') ?? '{}') as {
      widgets: Array<{ properties: { period: number; region: string; title: string } }>;
    };
    // The publish interval (90 s) rounded up to whole minutes; the bucket's region.
    expect(
      body.widgets.every((w) => w.properties.period === 120 && w.properties.region === 'cn-north-1'),
    ).toBe(true);
    expect(body.widgets.map((w) => w.properties.title)).toContain(
      'vehicle-TEST-001: queue depth and oldest waiting file (s)',
    );

    cloudwatch.clearRequests();
    const second = captureIo();
    expect(await dashboardCommand(['apply', '--config', ws.config], second, fast)).toBe(0);
    expect(second.out).toBe('unchanged  TVM-Upload-vehicle-TEST-001\n');
    expect(cloudwatch.requests.map((r) => r.operation)).toEqual(['GetDashboard']);

    const named = captureIo();
    expect(
      await dashboardCommand(['apply', '--name', 'Fleet_A', '--json', '--config', ws.config], named, fast),
    ).toBe(0);
    expect(JSON.parse(named.out)).toEqual({ name: 'Fleet_A', action: 'created', messages: [] });
    expect(cloudwatch.dashboards.get('Fleet_A')).toBe(
      cloudwatch.dashboards.get('TVM-Upload-vehicle-TEST-001'),
    );
  });

  it('exits 2 for a name CloudWatch refuses and for a missing "apply", sending nothing', async () => {
    cloudwatch.clearRequests();
    const bad = captureIo();
    expect(await dashboardCommand(['apply', '--name', 'no spaces', '--config', ws.config], bad, fast)).toBe(
      2,
    );
    expect(bad.err).toContain('Expected `name` to be 1 to 255 of A-Z, a-z, 0-9, - and _, got "no spaces"');
    const noVerb = captureIo();
    expect(await dashboardCommand(['--config', ws.config], noVerb, fast)).toBe(2);
    expect(noVerb.err).toMatch(/^Expected: dashboard apply\nUsage: tvm-upload dashboard apply/);
    expect(cloudwatch.requests).toHaveLength(0);
  });

  it('exits 1 with the classified reason when IAM refuses', async () => {
    await cloudwatch.setMode('access-denied');
    try {
      const io = captureIo();
      expect(await dashboardCommand(['apply', '--config', ws.config], io, fast)).toBe(1);
      expect(io.err).toMatch(
        /^dashboard apply failed: GetDashboard failed for TVM-Upload-vehicle-TEST-001: AccessDenied: /,
      );
    } finally {
      await cloudwatch.setMode('up');
    }
  });
});

describe('alarmsCommand (tvm-upload alarms apply)', () => {
  it('adds the UploadsPaused alarm: paused at every sample for an hour', async () => {
    const io = captureIo();
    expect(await alarmsCommand(['apply', '--config', ws.config], io, fast)).toBe(0);
    expect(io.out).toContain('created    TVM-UploadsPaused-vehicle-TEST-001\n');
    expect(cloudwatch.alarms.get('TVM-UploadsPaused-vehicle-TEST-001')).toMatchObject({
      MetricName: 'UploadsPaused',
      Statistic: 'Minimum',
      Threshold: 1,
      Period: 300,
      EvaluationPeriods: 12,
    });
    const again = captureIo();
    expect(await alarmsCommand(['apply', '--config', ws.config], again, fast)).toBe(0);
    expect(again.out).toContain('unchanged  TVM-UploadsPaused-vehicle-TEST-001\n');
  });
});
