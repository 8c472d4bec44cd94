import { request } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { startFaultProxy, type FaultProxy } from '@tvm/test-utils';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnAgent } from './e2e-harness.js';
import { configDocument, makeWorkspace, until, useLocalS3, writeConfig, writeLog } from './helpers.js';

const s3 = useLocalS3();

/** A port free on loopback now (the agent binds it right after). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, agent: false, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

/** The value of one sample line (`name{labels} value`) of an exposition, or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  if (line !== undefined) return Number(line.slice(series.length + 1));
  // A family split by lane (`tvm_upload_queue_files{lane="high"} 2`): its total.
  const byLane = text.split('\n').filter((l) => l.startsWith(`${series}{lane=`));
  return byLane.length === 0 ? undefined : byLane.reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

let proxy: FaultProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

describe('GET /metrics and /healthz of the running daemon (end to end)', () => {
  it('reports uploads as they happen, 503 with the reason during a refused-connection outage, and ok after', async () => {
    const ws = await makeWorkspace();
    // Every byte to and from S3 crosses the fault proxy: slow at first (uploads take a while), then refused.
    proxy = await startFaultProxy({ targetPort: s3.port, mode: { kind: 'delay', ms: 150 } });
    const port = await freePort();
    await writeConfig(
      ws,
      configDocument(ws, proxy.endpoint, 't01logs', {
        monitoring: { http: { listen: `127.0.0.1:${port}` } },
      }),
    );
    const files = [1, 2, 3].map((i) => join(ws.logs, 'terminal', `before-${i}.log`));
    for (const file of files) await writeLog(file, `${file}\n`.repeat(2_000));

    const agent = spawnAgent(['run', '--config', ws.configFile]);
    try {
      await agent.waitFor(`Monitoring endpoint on http://127.0.0.1:${port} (/metrics, /healthz)`);

      // While the files upload: the queue is seen, health is ok, and every scrape is a valid exposition.
      let sawQueued = false;
      let metrics = '';
      await until(
        async () => {
          metrics = (await get(port, '/metrics')).body;
          for (const line of metrics.trimEnd().split('\n')) {
            expect(line).toMatch(/^(# (HELP|TYPE) \w+ .+|\w+(\{[^}]*\})? -?[\d.e+]+)$/);
          }
          if ((sample(metrics, 'tvm_upload_queue_files') ?? 0) > 0) {
            sawQueued = true;
            expect(await get(port, '/healthz')).toEqual({ status: 200, body: 'ok\n' });
          }
          // The queue gauges are summed once a second: they may trail the upload counter by that much.
          return (
            sample(metrics, 'tvm_upload_uploaded_files_total') === 3 &&
            sample(metrics, 'tvm_upload_queue_files') === 0
          );
        },
        30_000,
        'three uploads counted by /metrics',
      );
      expect(sawQueued).toBe(true);
      expect(sample(metrics, 'tvm_upload_queue_files')).toBe(0);
      expect(sample(metrics, 'tvm_upload_queue_bytes')).toBe(0);
      // Split by the pipeline's lanes, every lane present.
      for (const lane of ['incident', 'high', 'normal', 'low']) {
        expect(metrics).toMatch(new RegExp(`^tvm_upload_queue_files\\{lane="${lane}"\\} 0$`, 'm'));
      }
      expect(sample(metrics, 'tvm_upload_oldest_pending_seconds')).toBe(0);
      expect(sample(metrics, 'tvm_upload_paused{reason="outage"}')).toBe(0);
      expect(sample(metrics, 'tvm_upload_paused{reason="destination"}')).toBe(0);
      expect(sample(metrics, 'tvm_upload_uploaded_bytes_total')).toBeGreaterThan(3 * 2_000 * 40);
      expect(sample(metrics, 'tvm_upload_failed_files')).toBe(0);
      expect(sample(metrics, 'tvm_upload_metrics_buffered_points')).toBe(0);
      const lastSuccess = sample(metrics, 'tvm_upload_last_success_timestamp_seconds') ?? 0;
      expect(Math.abs(lastSuccess - Date.now() / 1000)).toBeLessThan(60);
      expect(metrics).toMatch(/^tvm_upload_disk_usage_ratio\{filesystem="[^"]+"\} 0(\.\d+)?$/m);
      expect(await get(port, '/healthz')).toEqual({ status: 200, body: 'ok\n' });

      // The outage: S3's port refuses connections. A new file fails to go, uploads pause, /healthz says why.
      await proxy.setMode({ kind: 'refuse' });
      const during = join(ws.logs, 'terminal', 'during-outage.log');
      await writeLog(during, 'written while S3 was unreachable\n', 0);
      let health = { status: 0, body: '' };
      await until(
        async () => {
          health = await get(port, '/healthz');
          return health.status === 503;
        },
        30_000,
        '/healthz 503 during the outage',
      );
      expect(health.body).toMatch(/^uploads paused \(outage\) for \d+s: .*ECONNREFUSED.*\n$/);
      expect(health.body.trimEnd().includes('\n')).toBe(false);
      await until(
        async () => {
          metrics = (await get(port, '/metrics')).body;
          return sample(metrics, 'tvm_upload_queue_files') === 1; // summed once a second
        },
        5_000,
        'the waiting file in /metrics',
      );
      expect(sample(metrics, 'tvm_upload_paused{reason="outage"}')).toBe(1);
      expect(sample(metrics, 'tvm_upload_paused{reason="destination"}')).toBe(0);
      expect(sample(metrics, 'tvm_upload_queue_bytes')).toBe(33);
      expect(sample(metrics, 'tvm_upload_failures_total')).toBeGreaterThanOrEqual(1);
      expect(sample(metrics, 'tvm_upload_healthy')).toBe(0);

      // Recovery: the probe finds S3 again, the file goes, health is ok again.
      await proxy.setMode({ kind: 'pass' });
      await until(
        async () => {
          const text = (await get(port, '/metrics')).body;
          return (
            sample(text, 'tvm_upload_uploaded_files_total') === 4 &&
            sample(text, 'tvm_upload_queue_files') === 0
          );
        },
        60_000,
        'the upload after the outage',
      );
      await until(async () => (await get(port, '/healthz')).status === 200, 10_000, '/healthz ok again');
      metrics = (await get(port, '/metrics')).body;
      expect(sample(metrics, 'tvm_upload_paused{reason="outage"}')).toBe(0);
      expect(sample(metrics, 'tvm_upload_queue_files')).toBe(0);
      expect(await get(port, '/healthz')).toEqual({ status: 200, body: 'ok\n' });

      agent.child.kill('SIGTERM');
      expect(await agent.exited).toBe(0);
      await expect(get(port, '/healthz')).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      agent.child.kill('SIGKILL');
    }
  }, 180_000);
});
