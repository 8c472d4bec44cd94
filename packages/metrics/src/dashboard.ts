import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { classify } from '@tvm/error-classification';
import { getDashboardBody, putDashboard } from './adapters/dashboard.js';
import { DEFAULT_NAMESPACE, VEHICLE_DIMENSION, type MetricName } from './catalog.js';
import { invalidOption, MetricsError } from './errors.js';

/** Options of {@link dashboardBody}. */
export interface DashboardBodyOptions {
  /** The vehicle whose own widgets the dashboard shows next to the fleet's. */
  vehicleId: string;
  /** The region the widgets read (CloudWatch needs it in every widget). */
  region: string;
  /** @default 'TVM/Upload' */
  namespace?: string;
  /** Seconds per datapoint of every widget; use the agent's publish interval or a multiple. @default 300 */
  periodSeconds?: number;
}

/** A widget of the fleet half: one metric of every vehicle, found by a `SEARCH` expression. */
interface FleetWidget {
  title: string;
  metric: MetricName;
  stat: 'Sum' | 'Maximum';
  /** Keep only the N vehicles with the highest values (SORT ... DESC): readable with hundreds of vehicles. */
  top?: number;
}

const FLEET: readonly FleetWidget[] = [
  { title: 'Fleet: failed upload attempts (FailureCount, Sum)', metric: 'FailureCount', stat: 'Sum' },
  { title: 'Fleet: files uploaded (FileCount, Sum)', metric: 'FileCount', stat: 'Sum' },
  { title: 'Fleet: bytes uploaded (BytesUploaded, Sum)', metric: 'BytesUploaded', stat: 'Sum' },
  {
    title: 'Fleet: fullest log filesystem, worst 20 vehicles (DiskUsagePercent, Maximum)',
    metric: 'DiskUsagePercent',
    stat: 'Maximum',
    top: 20,
  },
  {
    title: 'Fleet: oldest waiting file, worst 20 vehicles (OldestPendingAgeSeconds, Maximum)',
    metric: 'OldestPendingAgeSeconds',
    stat: 'Maximum',
    top: 20,
  },
  { title: 'Fleet: uploads paused (UploadsPaused, Maximum)', metric: 'UploadsPaused', stat: 'Maximum' },
];

/** The vehicle half: its own series, by the `VehicleId` dimension. */
const VEHICLE: ReadonlyArray<{ title: string; metrics: ReadonlyArray<[MetricName, 'Sum' | 'Maximum']> }> = [
  {
    title: 'files uploaded and failed attempts',
    metrics: [
      ['FileCount', 'Sum'],
      ['FailureCount', 'Sum'],
      ['PermanentFailureCount', 'Sum'],
    ],
  },
  { title: 'bytes uploaded', metrics: [['BytesUploaded', 'Sum']] },
  {
    title: 'queue depth and oldest waiting file (s)',
    metrics: [
      ['QueueDepth', 'Maximum'],
      ['OldestPendingAgeSeconds', 'Maximum'],
    ],
  },
  {
    title: 'disk usage (%) and uploads paused',
    metrics: [
      ['DiskUsagePercent', 'Maximum'],
      ['UploadsPaused', 'Maximum'],
    ],
  },
];

const WIDTH = 12;
const HEIGHT = 6;

/**
 * The dashboard's body: fleet-wide widgets (every `VehicleId` in the namespace, through metric-math `SEARCH`
 * expressions, so no vehicle needs to know its peers) above this vehicle's own widgets. Deterministic: the same
 * options give the same text, byte for byte, so {@link applyDashboard} can tell "unchanged".
 * @throws {TypeError} when an option is invalid
 */
export function dashboardBody(options: DashboardBodyOptions): string {
  const { vehicleId, region } = options;
  const namespace = options.namespace ?? DEFAULT_NAMESPACE;
  const period = options.periodSeconds ?? 300;
  if (typeof vehicleId !== 'string' || vehicleId.length === 0) {
    invalidOption('vehicleId', 'a non-empty string', vehicleId);
  }
  if (typeof region !== 'string' || region.length === 0) invalidOption('region', 'a region name', region);
  if (!Number.isInteger(period) || period < 60 || period % 60 !== 0) {
    invalidOption('periodSeconds', 'a multiple of 60', period);
  }
  const widgets: object[] = [];
  const place = (index: number, rowOffset: number) => ({
    x: (index % 2) * WIDTH,
    y: rowOffset + Math.floor(index / 2) * HEIGHT,
    width: WIDTH,
    height: HEIGHT,
  });
  FLEET.forEach((widget, index) => {
    // The schema `{Namespace,VehicleId}` matches the series with exactly that one dimension: every vehicle's.
    const search = `SEARCH('{${namespace},${VEHICLE_DIMENSION}} MetricName="${widget.metric}"', '${widget.stat}', ${period})`;
    const expression = widget.top === undefined ? search : `SORT(${search}, MAX, DESC, ${widget.top})`;
    widgets.push({
      type: 'metric',
      ...place(index, 0),
      properties: {
        title: widget.title,
        region,
        view: 'timeSeries',
        stacked: false,
        period,
        stat: widget.stat,
        metrics: [[{ expression, id: 'fleet', label: '', region }]],
      },
    });
  });
  const fleetRows = Math.ceil(FLEET.length / 2) * HEIGHT;
  VEHICLE.forEach((widget, index) => {
    widgets.push({
      type: 'metric',
      ...place(index, fleetRows),
      properties: {
        title: `${vehicleId}: ${widget.title}`,
        region,
        view: 'timeSeries',
        stacked: false,
        period,
        metrics: widget.metrics.map(([metric, stat]) => [
          namespace,
          metric,
          VEHICLE_DIMENSION,
          vehicleId,
          { stat, label: metric },
        ]),
      },
    });
  });
  return JSON.stringify({ start: '-PT24H', periodOverride: 'inherit', widgets });
}

/** The dashboard name CloudWatch accepts for a vehicle: `TVM-Upload-<vehicle_id>`, other characters as `_`. */
export function dashboardName(vehicleId: string): string {
  return `TVM-Upload-${vehicleId}`.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 255);
}

/** Options of {@link applyDashboard}. */
export interface ApplyDashboardOptions {
  /** The CloudWatch client (needs cloudwatch:GetDashboard and cloudwatch:PutDashboard). */
  client: CloudWatchClient;
  /** 1-255 of A-Z, a-z, 0-9, `-` and `_`. */
  name: string;
  /** The body, e.g. from {@link dashboardBody}. */
  body: string;
  signal?: AbortSignal;
}

/** What {@link applyDashboard} did. */
export interface ApplyDashboardResult {
  name: string;
  action: 'created' | 'updated' | 'unchanged';
  /** CloudWatch's validation messages on PutDashboard (the dashboard was saved; they are warnings). */
  messages: string[];
}

/**
 * Creates or updates a dashboard. Idempotent: reads it first (GetDashboard) and writes only when the body differs
 * as JSON, so a second apply changes nothing.
 * @throws {TypeError} when the name is not one CloudWatch accepts or the body is not JSON
 * @throws {MetricsError} `dashboard-failed` when CloudWatch refuses a call (the cause is classified)
 */
export async function applyDashboard(options: ApplyDashboardOptions): Promise<ApplyDashboardResult> {
  const { client, name, body, signal } = options;
  if (typeof name !== 'string' || !/^[A-Za-z0-9_-]{1,255}$/.test(name)) {
    invalidOption('name', '1 to 255 of A-Z, a-z, 0-9, - and _', name);
  }
  const wanted = canonical(body, 'body');
  let current: string | undefined;
  try {
    current = await getDashboardBody(client, name, signal);
  } catch (error) {
    throw dashboardError(error, `GetDashboard failed for ${name}`);
  }
  if (current !== undefined && sameJson(current, wanted)) return { name, action: 'unchanged', messages: [] };
  let messages: string[];
  try {
    messages = await putDashboard(client, name, body, signal);
  } catch (error) {
    throw dashboardError(error, `PutDashboard failed for ${name}`);
  }
  return { name, action: current === undefined ? 'created' : 'updated', messages };
}

function sameJson(current: string, wanted: string): boolean {
  try {
    return canonical(current, 'current') === wanted;
  } catch {
    return false; // whatever is there is not ours: replace it
  }
}

/** JSON text with object keys sorted, so key order never makes two equal bodies differ. */
function canonical(text: string, what: string): string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    invalidOption(what, 'JSON text', text.slice(0, 80));
  }
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(
        Object.keys(v)
          .sort()
          .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
      );
    }
    return v;
  };
  return JSON.stringify(sort(value));
}

function dashboardError(error: unknown, what: string): MetricsError {
  const classification = classify(error);
  return new MetricsError('dashboard-failed', `${what}: ${classification.message}`, {
    cause: error,
    classification,
  });
}
