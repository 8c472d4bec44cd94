import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { CloudWatchClient, type CloudWatchClientConfig } from '@aws-sdk/client-cloudwatch';

/** The service target prefix `@aws-sdk/client-cloudwatch` (>= 3.949, AWS JSON 1.0) puts in `x-amz-target`. */
export const CLOUDWATCH_TARGET_PREFIX = 'GraniteServiceVersion20100801.';

/** Fixed credentials for a client of the fake endpoint (it does not check signatures). */
export const FAKE_CLOUDWATCH_CREDENTIALS = { accessKeyId: 'FAKECW', secretAccessKey: 'FAKECW' } as const;

/** One request the fake endpoint received, decoded. */
export interface RecordedCloudWatchRequest {
  /** The operation from `x-amz-target`, e.g. `PutMetricData`. */
  operation: string;
  /** Request headers (lower-case names). */
  headers: Record<string, string>;
  /** True when the body arrived gzip-encoded (the SDK compresses bodies of 10 KiB or more). */
  gzip: boolean;
  /** Body size on the wire, in bytes. */
  wireBytes: number;
  /** The decoded JSON body. */
  body: Record<string, unknown>;
  /** How the fake answered: HTTP status. */
  status: number;
}

/** One datum of a recorded PutMetricData request, with the request's namespace. */
export interface RecordedDatum {
  Namespace: string;
  MetricName: string;
  Dimensions?: Array<{ Name: string; Value: string }>;
  /** Epoch seconds, as the JSON 1.0 protocol sends timestamps. */
  Timestamp?: number;
  Value?: number;
  Values?: number[];
  Counts?: number[];
  StatisticValues?: { SampleCount: number; Sum: number; Minimum: number; Maximum: number };
  Unit?: string;
  StorageResolution?: number;
}

/**
 * How the fake behaves:
 * - `up`: answers like CloudWatch;
 * - `refuse`: not listening (clients get ECONNREFUSED; open keep-alive connections are cut);
 * - `unavailable`: answers 503 `ServiceUnavailable`;
 * - `access-denied`: answers 400 `AccessDenied` (what an IAM policy without `cloudwatch:PutMetricData` gives).
 */
export type FakeCloudWatchMode = 'up' | 'refuse' | 'unavailable' | 'access-denied';

/** A running fake CloudWatch endpoint. */
export interface FakeCloudWatch {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  port: number;
  /** Every request received, in order (including the ones answered with an error). */
  readonly requests: readonly RecordedCloudWatchRequest[];
  /** The datums of every PutMetricData request answered 200, in arrival order. */
  metricData(): RecordedDatum[];
  /** The alarms as PutMetricAlarm left them, by name (what DescribeAlarms answers from). */
  readonly alarms: ReadonlyMap<string, Record<string, unknown>>;
  /** The dashboards as PutDashboard left them: name -> the `DashboardBody` text (what GetDashboard answers). */
  readonly dashboards: ReadonlyMap<string, string>;
  /** The current mode. */
  readonly mode: FakeCloudWatchMode;
  /** Switches the behaviour; `refuse` stops listening and `up` listens again on the same port. */
  setMode(mode: FakeCloudWatchMode): Promise<void>;
  /** Forgets the recorded requests (not the alarms or dashboards). */
  clearRequests(): void;
  /** A real SDK client pointed at this endpoint (fixed credentials, region cn-north-1). */
  client(overrides?: Partial<CloudWatchClientConfig>): CloudWatchClient;
  close(): Promise<void>;
}

/** Options of {@link startFakeCloudWatch}. */
export interface FakeCloudWatchOptions {
  /** Port to listen on. @default 0 (any free port) */
  port?: number;
  /** Mode at start. @default 'up' */
  mode?: FakeCloudWatchMode;
}

// CloudWatch's documented PutMetricData limits: the fake enforces them so a client that breaks them fails a test.
const MAX_DATUMS_PER_REQUEST = 1000;
const MAX_REQUEST_BYTES = 1_000_000;

interface Answer {
  status: number;
  body: Record<string, unknown>;
  /** `Code;Type` for the x-amzn-query-error header, sent when the client asked for query compatibility. */
  queryError?: string;
}

/**
 * Starts a fake CloudWatch on 127.0.0.1 that speaks the wire protocol of the installed `@aws-sdk/client-cloudwatch`:
 * AWS JSON 1.0 (`content-type: application/x-amz-json-1.0`, `x-amz-target: GraniteServiceVersion20100801.<Op>`,
 * gzip bodies), answering PutMetricData, PutMetricAlarm, DescribeAlarms, PutDashboard and GetDashboard, and errors in the JSON shape the SDK's
 * query-compatible deserializer reads (`__type`, `message`, `x-amzn-query-error: Code;Type`).
 */
export async function startFakeCloudWatch(options: FakeCloudWatchOptions = {}): Promise<FakeCloudWatch> {
  const requests: RecordedCloudWatchRequest[] = [];
  const alarms = new Map<string, Record<string, unknown>>();
  const dashboards = new Map<string, string>();
  const sockets = new Set<Socket>();
  const clients: CloudWatchClient[] = [];
  let mode: FakeCloudWatchMode = options.mode ?? 'up';
  let requestCounter = 0;

  const handle = (request: IncomingMessage, response: ServerResponse, raw: Buffer): void => {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    const target = headers['x-amz-target'] ?? '';
    const operation = target.startsWith(CLOUDWATCH_TARGET_PREFIX)
      ? target.slice(CLOUDWATCH_TARGET_PREFIX.length)
      : '';
    const gzip = (headers['content-encoding'] ?? '').split(',').some((e) => e.trim() === 'gzip');
    let body: Record<string, unknown> = {};
    let answer: Answer;
    try {
      const text = (gzip ? gunzipSync(raw) : raw).toString('utf8');
      body = text.length > 0 ? (JSON.parse(text) as Record<string, unknown>) : {};
      answer = answerFor(operation, headers, body, raw.length);
    } catch (error) {
      answer = clientError('SerializationException', `Could not read the request body: ${String(error)}`);
    }
    requests.push({ operation, headers, gzip, wireBytes: raw.length, body, status: answer.status });
    const payload = JSON.stringify(answer.body);
    const responseHeaders: Record<string, string> = {
      'content-type': 'application/x-amz-json-1.0',
      'content-length': String(Buffer.byteLength(payload)),
      'x-amzn-requestid': `fake-${++requestCounter}`,
    };
    if (answer.queryError !== undefined && headers['x-amzn-query-mode'] === 'true') {
      responseHeaders['x-amzn-query-error'] = answer.queryError;
    }
    response.writeHead(answer.status, responseHeaders);
    response.end(payload);
  };

  const answerFor = (
    operation: string,
    headers: Record<string, string>,
    body: Record<string, unknown>,
    wireBytes: number,
  ): Answer => {
    if (!(headers['content-type'] ?? '').startsWith('application/x-amz-json-1.0')) {
      return clientError(
        'SerializationException',
        `Unexpected content-type ${headers['content-type'] ?? ''}`,
      );
    }
    if (mode === 'unavailable') {
      return {
        status: 503,
        body: {
          __type: 'com.amazon.coral.availability#ServiceUnavailableException',
          message: 'Service Unavailable',
        },
        queryError: 'ServiceUnavailable;Receiver',
      };
    }
    if (mode === 'access-denied') {
      return {
        status: 400,
        body: {
          __type: 'com.amazon.coral.service#AccessDeniedException',
          message: `User: arn:aws-cn:iam::123456789012:user/vehicle is not authorized to perform: cloudwatch:${operation} because no identity-based policy allows the cloudwatch:${operation} action`,
        },
        queryError: 'AccessDenied;Sender',
      };
    }
    switch (operation) {
      case 'PutMetricData':
        return putMetricData(body, wireBytes);
      case 'PutMetricAlarm':
        return putMetricAlarm(body);
      case 'DescribeAlarms':
        return describeAlarms(body);
      case 'PutDashboard':
        return putDashboard(body);
      case 'GetDashboard':
        return getDashboard(body);
      default:
        return {
          status: 400,
          body: {
            __type: 'com.amazon.coral.service#UnknownOperationException',
            message: `Unknown operation ${operation}`,
          },
        };
    }
  };

  const putMetricData = (body: Record<string, unknown>, wireBytes: number): Answer => {
    const data = body['MetricData'];
    if (typeof body['Namespace'] !== 'string' || !Array.isArray(data) || data.length === 0) {
      return clientError('MissingParameter', 'The request must contain Namespace and MetricData.');
    }
    if (data.length > MAX_DATUMS_PER_REQUEST) {
      return clientError(
        'InvalidParameterValue',
        `The collection MetricData must not have a size greater than 1000.`,
      );
    }
    if (wireBytes > MAX_REQUEST_BYTES) {
      return {
        status: 413,
        body: { __type: 'RequestEntityTooLarge', message: 'Request size exceeded 1000000 bytes' },
      };
    }
    for (const datum of data as Array<Record<string, unknown>>) {
      if (typeof datum['MetricName'] !== 'string') {
        return clientError('InvalidParameterValue', 'MetricName is required.');
      }
      const hasValue = typeof datum['Value'] === 'number';
      const hasStats = typeof datum['StatisticValues'] === 'object' && datum['StatisticValues'] !== null;
      if (hasValue === hasStats && !Array.isArray(datum['Values'])) {
        return clientError(
          'InvalidParameterCombination',
          'Exactly one of Value, StatisticValues or Values is required.',
        );
      }
    }
    return { status: 200, body: {} };
  };

  const putMetricAlarm = (body: Record<string, unknown>): Answer => {
    const name = body['AlarmName'];
    if (typeof name !== 'string' || name.length === 0 || name.length > 255) {
      return clientError('InvalidParameterValue', 'AlarmName must be 1 to 255 characters.');
    }
    for (const required of [
      'MetricName',
      'Namespace',
      'Period',
      'EvaluationPeriods',
      'Threshold',
      'ComparisonOperator',
    ]) {
      if (body[required] === undefined)
        return clientError('MissingParameter', `The parameter ${required} is required.`);
    }
    const period = body['Period'] as number;
    const evaluationPeriods = body['EvaluationPeriods'] as number;
    // CloudWatch limits an alarm's evaluation range: 7 days, or 1 day for periods under an hour.
    const maxRange = period < 3_600 ? 86_400 : 7 * 86_400;
    if (period * evaluationPeriods > maxRange) {
      return clientError(
        'InvalidParameterCombination',
        `Period * EvaluationPeriods must not exceed ${maxRange} seconds.`,
      );
    }
    const existing = alarms.get(name);
    const { Tags: _tags, ...stored } = body;
    alarms.set(name, {
      ...stored,
      AlarmArn: `arn:aws-cn:cloudwatch:cn-north-1:123456789012:alarm:${name}`,
      StateValue: existing?.['StateValue'] ?? 'INSUFFICIENT_DATA',
      AlarmConfigurationUpdatedTimestamp: Date.now() / 1000,
    });
    return { status: 200, body: {} };
  };

  const describeAlarms = (body: Record<string, unknown>): Answer => {
    const names = Array.isArray(body['AlarmNames']) ? (body['AlarmNames'] as string[]) : undefined;
    const prefix = typeof body['AlarmNamePrefix'] === 'string' ? body['AlarmNamePrefix'] : undefined;
    const found = [...alarms.values()].filter((alarm) => {
      const name = alarm['AlarmName'] as string;
      if (names && !names.includes(name)) return false;
      if (prefix !== undefined && !name.startsWith(prefix)) return false;
      return true;
    });
    return { status: 200, body: { MetricAlarms: found, CompositeAlarms: [] } };
  };

  const putDashboard = (body: Record<string, unknown>): Answer => {
    const name = body['DashboardName'];
    const text = body['DashboardBody'];
    // CloudWatch's rules: 1-255 of A-Z a-z 0-9 - _; the body is JSON with a `widgets` array.
    if (typeof name !== 'string' || !/^[A-Za-z0-9_-]{1,255}$/.test(name)) {
      return clientError(
        'InvalidParameterValue',
        'DashboardName must be 1 to 255 of A-Z, a-z, 0-9, - and _.',
      );
    }
    if (typeof text !== 'string')
      return clientError('MissingParameter', 'The parameter DashboardBody is required.');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return clientError('InvalidParameterInput', 'The field DashboardBody must be a valid JSON object');
    }
    if (
      typeof parsed !== 'object' ||
      parsed === null ||
      !Array.isArray((parsed as { widgets?: unknown }).widgets)
    ) {
      return clientError('InvalidParameterInput', 'The dashboard body must have a widgets array');
    }
    dashboards.set(name, text);
    return { status: 200, body: { DashboardValidationMessages: [] } };
  };

  const getDashboard = (body: Record<string, unknown>): Answer => {
    const name = body['DashboardName'];
    const text = typeof name === 'string' ? dashboards.get(name) : undefined;
    if (text === undefined) {
      return {
        status: 404,
        body: { __type: 'ResourceNotFound', message: 'Dashboard does not exist' },
        queryError: 'ResourceNotFound;Sender',
      };
    }
    return {
      status: 200,
      body: {
        DashboardName: name,
        DashboardBody: text,
        DashboardArn: `arn:aws-cn:cloudwatch::123456789012:dashboard/${String(name)}`,
      },
    };
  };

  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => handle(request, response, Buffer.concat(chunks)));
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  const listen = (port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  const stopListening = (): Promise<void> =>
    new Promise((resolve) => {
      // Keep-alive sockets would otherwise keep answering after the "outage" began.
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });

  // Listen even when starting in `refuse` mode, to learn a port; then stop.
  const port = await listen(options.port ?? 0);
  if (mode === 'refuse') await stopListening();
  const endpoint = `http://127.0.0.1:${port}`;

  return {
    endpoint,
    port,
    requests,
    metricData() {
      const datums: RecordedDatum[] = [];
      for (const request of requests) {
        if (request.operation !== 'PutMetricData' || request.status !== 200) continue;
        const namespace = request.body['Namespace'] as string;
        for (const datum of request.body['MetricData'] as Array<Omit<RecordedDatum, 'Namespace'>>) {
          datums.push({ Namespace: namespace, ...datum });
        }
      }
      return datums;
    },
    alarms,
    dashboards,
    get mode() {
      return mode;
    },
    async setMode(next) {
      const wasListening = mode !== 'refuse';
      mode = next;
      if (next === 'refuse' && wasListening) await stopListening();
      if (next !== 'refuse' && !wasListening) await listen(port);
    },
    clearRequests() {
      requests.length = 0;
    },
    client(overrides = {}) {
      const client = new CloudWatchClient({
        endpoint,
        region: 'cn-north-1',
        credentials: FAKE_CLOUDWATCH_CREDENTIALS,
        ...overrides,
      });
      clients.push(client);
      return client;
    },
    async close() {
      for (const client of clients) client.destroy();
      if (mode !== 'refuse') await stopListening();
    },
  };
}

function clientError(code: string, message: string): Answer {
  return { status: 400, body: { __type: code, message }, queryError: `${code};Sender` };
}
