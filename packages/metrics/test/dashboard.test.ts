import { startFakeCloudWatch, type FakeCloudWatch } from '@tvm/test-utils';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MetricsError, applyDashboard, dashboardBody, dashboardName } from '../src/index.js';

let cloudwatch: FakeCloudWatch;
beforeEach(async () => {
  cloudwatch = await startFakeCloudWatch();
});
afterEach(async () => {
  await cloudwatch.close();
});

interface Widget {
  x: number;
  y: number;
  width: number;
  height: number;
  properties: { title: string; region: string; metrics: unknown[][] };
}
const widgetsOf = (body: string): Widget[] => (JSON.parse(body) as { widgets: Widget[] }).widgets;

describe('dashboardBody', () => {
  const body = dashboardBody({ vehicleId: 'vehicle-CN-001', region: 'cn-north-1' });

  it('is deterministic: the same options give the same text', () => {
    expect(dashboardBody({ vehicleId: 'vehicle-CN-001', region: 'cn-north-1' })).toBe(body);
    expect(dashboardBody({ vehicleId: 'vehicle-CN-002', region: 'cn-north-1' })).not.toBe(body);
  });

  it('shows every vehicle through SEARCH over TVM/Upload and VehicleId: failures, files, bytes, disk, oldest pending', () => {
    const expressions = widgetsOf(body)
      .flatMap((w) => w.properties.metrics)
      .map((m) => (m[0] as { expression?: string }).expression)
      .filter((e): e is string => e !== undefined);
    expect(expressions).toEqual([
      `SEARCH('{TVM/Upload,VehicleId} MetricName="FailureCount"', 'Sum', 300)`,
      `SEARCH('{TVM/Upload,VehicleId} MetricName="FileCount"', 'Sum', 300)`,
      `SEARCH('{TVM/Upload,VehicleId} MetricName="BytesUploaded"', 'Sum', 300)`,
      `SORT(SEARCH('{TVM/Upload,VehicleId} MetricName="DiskUsagePercent"', 'Maximum', 300), MAX, DESC, 20)`,
      `SORT(SEARCH('{TVM/Upload,VehicleId} MetricName="OldestPendingAgeSeconds"', 'Maximum', 300), MAX, DESC, 20)`,
      `SEARCH('{TVM/Upload,VehicleId} MetricName="UploadsPaused"', 'Maximum', 300)`,
    ]);
  });

  it("adds this vehicle's own series by its VehicleId dimension, below the fleet's, without overlaps", () => {
    const widgets = widgetsOf(body);
    const own = widgets.filter((w) => w.properties.title.startsWith('vehicle-CN-001: '));
    expect(own).toHaveLength(4);
    const series = own.flatMap((w) => w.properties.metrics);
    expect(series).toContainEqual([
      'TVM/Upload',
      'OldestPendingAgeSeconds',
      'VehicleId',
      'vehicle-CN-001',
      { stat: 'Maximum', label: 'OldestPendingAgeSeconds' },
    ]);
    expect(series.map((m) => m[1])).toEqual(
      expect.arrayContaining([
        'FileCount',
        'FailureCount',
        'BytesUploaded',
        'DiskUsagePercent',
        'UploadsPaused',
      ]),
    );
    const cells = new Set<string>();
    for (const w of widgets) {
      expect(w.properties.region).toBe('cn-north-1');
      const cell = `${w.x},${w.y}`;
      expect(cells.has(cell)).toBe(false);
      cells.add(cell);
    }
    expect(Math.min(...own.map((w) => w.y))).toBeGreaterThan(
      Math.max(...widgets.filter((w) => !own.includes(w)).map((w) => w.y)),
    );
  });

  it('throws a TypeError for an invalid period', () => {
    expect(() => dashboardBody({ vehicleId: 'v', region: 'r', periodSeconds: 90 })).toThrow(
      new TypeError('Expected `periodSeconds` to be a multiple of 60, got 90'),
    );
  });
});

describe('dashboardName', () => {
  it('keeps the characters CloudWatch allows in a dashboard name', () => {
    expect(dashboardName('vehicle-CN-001')).toBe('TVM-Upload-vehicle-CN-001');
    expect(dashboardName('car.7')).toBe('TVM-Upload-car_7');
  });
});

describe('applyDashboard', () => {
  const body = dashboardBody({ vehicleId: 'v1', region: 'cn-north-1' });

  it('creates the dashboard, then finds it unchanged and writes nothing', async () => {
    const client = cloudwatch.client();
    expect(await applyDashboard({ client, name: 'TVM-Upload-v1', body })).toEqual({
      name: 'TVM-Upload-v1',
      action: 'created',
      messages: [],
    });
    expect(cloudwatch.dashboards.get('TVM-Upload-v1')).toBe(body);
    cloudwatch.clearRequests();
    expect((await applyDashboard({ client, name: 'TVM-Upload-v1', body })).action).toBe('unchanged');
    expect(cloudwatch.requests.map((r) => r.operation)).toEqual(['GetDashboard']);
  });

  it('updates a dashboard whose body differs, and treats key order as no difference', async () => {
    const client = cloudwatch.client();
    (cloudwatch.dashboards as Map<string, string>).set('d', JSON.stringify({ widgets: [] }));
    expect((await applyDashboard({ client, name: 'd', body })).action).toBe('updated');
    expect(cloudwatch.dashboards.get('d')).toBe(body);
    const reordered = JSON.stringify(
      Object.fromEntries(Object.entries(JSON.parse(body) as Record<string, unknown>).reverse()),
    );
    (cloudwatch.dashboards as Map<string, string>).set('d', reordered);
    expect((await applyDashboard({ client, name: 'd', body })).action).toBe('unchanged');
  });

  it('throws MetricsError dashboard-failed, classified access-denied, when IAM refuses', async () => {
    await cloudwatch.setMode('access-denied');
    const error = await applyDashboard({ client: cloudwatch.client(), name: 'd', body }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MetricsError);
    expect(error).toMatchObject({
      code: 'dashboard-failed',
      classification: { kind: 'permanent', category: 'access-denied' },
    });
    expect((error as Error).message).toMatch(/^GetDashboard failed for d: AccessDenied: /);
  });

  it('throws a TypeError for a name CloudWatch refuses, before any request', async () => {
    await expect(applyDashboard({ client: cloudwatch.client(), name: 'a b', body })).rejects.toThrow(
      new TypeError('Expected `name` to be 1 to 255 of A-Z, a-z, 0-9, - and _, got "a b"'),
    );
    expect(cloudwatch.requests).toHaveLength(0);
  });
});
