import { request } from 'node:http';
import type { QueueEntry } from '@tvm/durable-queue';
import { describe, expect, it } from 'vitest';
import { describeConfig } from '../src/config-summary.js';
import { parseConfig } from '../src/config.js';
import type { AgentError } from '../src/errors.js';
import {
  answer,
  monitoringFamilies,
  parseListen,
  QUEUE_STATS_REFRESH_MS,
  QueueStatsCache,
  queueStats,
  renderMonitoring,
  startMonitoringServer,
  type MonitoringView,
} from '../src/monitoring/index.js';
import { MINIMAL_CONFIG as MINIMAL } from './fakes.js';

describe('parseListen', () => {
  it.each([
    ['127.0.0.1:9464', { host: '127.0.0.1', port: 9464, loopback: true }],
    ['127.8.0.1:1', { host: '127.8.0.1', port: 1, loopback: true }],
    ['localhost:9464', { host: 'localhost', port: 9464, loopback: true }],
    ['[::1]:9464', { host: '::1', port: 9464, loopback: true }],
    ['0.0.0.0:9464', { host: '0.0.0.0', port: 9464, loopback: false }],
    ['192.168.10.2:80', { host: '192.168.10.2', port: 80, loopback: false }],
    ['[::]:9464', { host: '::', port: 9464, loopback: false }],
  ])('reads %s', (value, expected) => {
    expect(parseListen(value)).toEqual(expected);
  });

  it.each([
    ['9464', /^must be host:port such as 127\.0\.0\.1:9464 \(a non-loopback address must be spelled out/],
    [':9464', /^must name the host: write 127\.0\.0\.1:9464 for this machine only, or spell out the address/],
    ['127.0.0.1:0', /^must have a port from 1 to 65535, got 0$/],
    ['127.0.0.1:70000', /^must have a port from 1 to 65535, got 70000$/],
    ['::1:9464', /^must be host:port|^must write an IPv6 address in brackets/],
    ['[nope]:9464', /^must have an IPv6 address inside \[ \]/],
    ['bad_host!:9464', /^must name a host or an IP address, got "bad_host!"$/],
  ])('refuses %s with a sentence', (value, problem) => {
    const parsed = parseListen(value);
    expect('problem' in parsed && parsed.problem).toMatch(problem);
  });
});

describe('monitoring.http in the config', () => {
  it('is off by default; given as a mapping it listens on 127.0.0.1:9464 unless told otherwise', () => {
    expect(parseConfig(MINIMAL, { env: {} }).config.monitoring.http).toBeUndefined();
    const on = parseConfig(`${MINIMAL}monitoring:\n  http: {}\n`, { env: {} }).config;
    expect(on.monitoring.http).toEqual({ listen: '127.0.0.1:9464' });
    expect(describeConfig(on)).toContain('monitoring endpoint: http://127.0.0.1:9464/metrics and /healthz');
    const exposed = parseConfig(`${MINIMAL}monitoring:\n  http:\n    listen: "0.0.0.0:9100"\n`, {
      env: {},
    }).config;
    expect(describeConfig(exposed)).toContain(
      'monitoring endpoint: http://0.0.0.0:9100/metrics and /healthz (NOT loopback: reachable from the network)',
    );
    expect(describeConfig(parseConfig(MINIMAL, { env: {} }).config)).toContain('monitoring endpoint: off');
  });

  it('rejects a listen without a host, naming the key, its line and the fix', () => {
    let problems: string[] = [];
    try {
      parseConfig(`${MINIMAL}monitoring:\n  http:\n    listen: ":9464"\n`, { env: {} });
    } catch (error) {
      problems = (error as AgentError).problems.slice();
    }
    expect(problems).toEqual([
      expect.stringMatching(
        /^monitoring\.http\.listen \(line 11, column 13\): must name the host: write 127\.0\.0\.1:9464 for this machine only/,
      ),
    ]);
  });
});

const entry = (filepath: string, detectedAt: number, size?: number, lane?: string): QueueEntry =>
  ({
    filepath,
    detectedAt,
    attempts: 0,
    nextAttemptAt: 0,
    ...(size === undefined ? {} : { size }),
    lane,
  }) as QueueEntry;

describe('queueStats', () => {
  const entries = [
    entry('/a', 5_000, 10, 'high'),
    entry('/b', 2_000, 20, 'normal'),
    entry('/c', 9_000, undefined, 'high'),
  ];

  it('sums files and bytes and finds the oldest in one pass', () => {
    expect(queueStats(entries)).toEqual({ files: 3, bytes: 30, oldestDetectedAt: 2_000, lanes: undefined });
    expect(queueStats([])).toEqual({ files: 0, bytes: 0, oldestDetectedAt: undefined, lanes: undefined });
  });

  it('splits by lane when given a lane-of function, listing the named lanes even when empty', () => {
    const stats = queueStats(entries, {
      laneOf: (e) => e['lane'] as string,
      lanes: ['incident', 'high', 'normal', 'low'],
    });
    expect([...(stats.lanes ?? [])]).toEqual([
      ['incident', { files: 0, bytes: 0 }],
      ['high', { files: 2, bytes: 10 }],
      ['normal', { files: 1, bytes: 20 }],
      ['low', { files: 0, bytes: 0 }],
    ]);
  });
});

const T = Date.UTC(2026, 11, 1, 12);
const view: MonitoringView = {
  now: T,
  queue: { files: 3, bytes: 4096, oldestDetectedAt: T - 90_500, lanes: undefined },
  failedFiles: 1,
  uploadedFiles: 7,
  uploadedBytes: 123_456,
  failedAttempts: 2,
  paused: undefined,
  lastSuccessAt: T - 1_000,
  diskUsage: { '/var/log': 0.5, '/home': 0.9125 },
  metricsBufferedPoints: 4,
  healthy: true,
};

describe('renderMonitoring', () => {
  it('renders every metric of the endpoint, tvm_upload_paused always present with 0 when healthy', () => {
    const samples = renderMonitoring(view)
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('#'));
    expect(samples).toEqual([
      'tvm_upload_queue_files 3',
      'tvm_upload_queue_bytes 4096',
      'tvm_upload_oldest_pending_seconds 90.5',
      'tvm_upload_failed_files 1',
      'tvm_upload_uploaded_files_total 7',
      'tvm_upload_uploaded_bytes_total 123456',
      'tvm_upload_failures_total 2',
      'tvm_upload_paused{reason="outage"} 0',
      'tvm_upload_paused{reason="destination"} 0',
      `tvm_upload_last_success_timestamp_seconds ${(T - 1_000) / 1000}`,
      'tvm_upload_disk_usage_ratio{filesystem="/home"} 0.9125',
      'tvm_upload_disk_usage_ratio{filesystem="/var/log"} 0.5',
      'tvm_upload_metrics_buffered_points 4',
      'tvm_upload_healthy 1',
    ]);
    expect(renderMonitoring(view)).toContain('# TYPE tvm_upload_uploaded_files_total counter\n');
  });

  it('says which reason pauses uploads; an empty queue is 0 s old; no last success before the first', () => {
    const text = renderMonitoring({
      ...view,
      paused: 'outage',
      healthy: false,
      queue: { files: 0, bytes: 0, oldestDetectedAt: undefined, lanes: undefined },
      lastSuccessAt: undefined,
    });
    expect(text).toContain(
      'tvm_upload_paused{reason="outage"} 1\ntvm_upload_paused{reason="destination"} 0\n',
    );
    expect(text).toContain('tvm_upload_oldest_pending_seconds 0\n');
    expect(text).not.toMatch(/^tvm_upload_last_success_timestamp_seconds /m);
    expect(text).toContain('tvm_upload_healthy 0\n');
  });

  it('labels the queue gauges by lane when lanes are given', () => {
    const families = monitoringFamilies({
      ...view,
      queue: {
        ...view.queue,
        lanes: new Map([
          ['incident', { files: 1, bytes: 5 }],
          ['normal', { files: 2, bytes: 7 }],
        ]),
      },
    });
    expect(families.find((f) => f.name === 'tvm_upload_queue_bytes')?.samples).toEqual([
      { labels: { lane: 'incident' }, value: 5 },
      { labels: { lane: 'normal' }, value: 7 },
    ]);
  });
});

describe('answer', () => {
  const handlers = (healthy: boolean) => ({
    metrics: () => 'tvm_upload_healthy 1\n',
    health: () => ({
      healthy,
      reason: healthy ? '' : 'uploads paused (outage) for 3s: connect\nECONNREFUSED',
    }),
  });

  it('answers /healthz 200 ok or 503 with the reason on one line, /metrics in the text format', () => {
    expect(answer('GET', '/healthz', handlers(true))).toMatchObject({ status: 200, body: 'ok\n' });
    expect(answer('GET', '/healthz?x=1', handlers(false))).toMatchObject({
      status: 503,
      body: 'uploads paused (outage) for 3s: connect ECONNREFUSED\n',
    });
    expect(answer('HEAD', '/metrics', handlers(true))).toMatchObject({
      status: 200,
      type: 'text/plain; version=0.0.4; charset=utf-8',
    });
  });

  it('answers 404 for other paths and 405 for other methods', () => {
    expect(answer('GET', '/', handlers(true)).status).toBe(404);
    expect(answer('POST', '/healthz', handlers(true))).toMatchObject({ status: 405, allow: 'GET, HEAD' });
  });
});

function get(port: number, path: string): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type']) }),
      );
    })
      .on('error', reject)
      .end();
  });
}

describe('startMonitoringServer', () => {
  it('serves on loopback, reads the handlers per request, and refuses connections once closed', async () => {
    let healthy = true;
    const server = await startMonitoringServer(
      { host: '127.0.0.1', port: 0 },
      {
        metrics: () => renderMonitoring(view),
        health: () => ({ healthy, reason: 'state cannot be written' }),
      },
    );
    try {
      expect(server.address).toBe(`127.0.0.1:${server.port}`);
      expect(await get(server.port, '/healthz')).toMatchObject({ status: 200, body: 'ok\n' });
      healthy = false;
      expect(await get(server.port, '/healthz')).toMatchObject({
        status: 503,
        body: 'state cannot be written\n',
      });
      const metrics = await get(server.port, '/metrics');
      expect(metrics.type).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(metrics.body).toContain('tvm_upload_queue_files 3\n');
    } finally {
      await server.close();
    }
    await expect(get(server.port, '/healthz')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('names the key and the address when it cannot listen', async () => {
    const first = await startMonitoringServer(
      { host: '127.0.0.1', port: 0 },
      { metrics: () => '', health: () => ({ healthy: true, reason: '' }) },
    );
    try {
      await expect(
        startMonitoringServer(
          { host: '127.0.0.1', port: first.port },
          { metrics: () => '', health: () => ({ healthy: true, reason: '' }) },
        ),
      ).rejects.toThrow(
        `Cannot listen on 127.0.0.1:${first.port} (monitoring.http.listen): listen EADDRINUSE`,
      );
    } finally {
      await first.close();
    }
  });
});

describe('QueueStatsCache', () => {
  it('serves the last summary for up to two refresh periods, then sums the queue again', () => {
    let now = 0;
    let entries = [entry('/a', 0, 1)];
    const agent = { store: { queue: { list: () => entries } } } as unknown as Parameters<
      QueueStatsCache['get']
    >[0];
    const cache = new QueueStatsCache(
      () => undefined,
      () => now,
    );
    try {
      expect(cache.get(agent).files).toBe(1);
      entries = [entry('/a', 0, 1), entry('/b', 0, 2)];
      now = 2 * QUEUE_STATS_REFRESH_MS;
      expect(cache.get(agent).files).toBe(1);
      now += 1;
      expect(cache.get(agent)).toMatchObject({ files: 2, bytes: 3 });
    } finally {
      cache.stop();
    }
  });
});
