/**
 * Latency of the monitoring endpoint (`GET /metrics`, `GET /healthz`) with 100,000 files queued: the real state
 * store (queue.json loaded from disk), the real @tvm/metrics recorder, the real HTTP server on loopback, scraped by
 * a keep-alive client one request at a time, as Prometheus does. Prints p50 / p99 / max per path; fails (exit 1)
 * when a p99 is 10 ms or more.
 * Usage: pnpm --filter @tvm/agent bench:http [-- --files 100000 --requests 2000]
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { openStateStore } from '@tvm/durable-queue';
import { createMetrics } from '@tvm/metrics';
import { HealthMonitor } from '../src/health.js';
import { startMonitoring } from '../src/monitoring/index.js';

const { values } = parseArgs({
  options: { files: { type: 'string', default: '100000' }, requests: { type: 'string', default: '2000' } },
});
const FILES = Number(values.files);
const REQUESTS = Number(values.requests);
const LIMIT_MS = 10;

const dir = await mkdtemp(join(tmpdir(), 'tvm-bench-http-'));
const now = Date.now();
const lines = Array.from({ length: FILES }, (_, i) =>
  JSON.stringify({
    filepath: `/var/log/tvm/ros/run-${i % 500}/node-${i}.log`,
    size: 1_000 + (i % 5_000),
    detectedAt: now - (FILES - i) * 1_000,
    attempts: i % 7 === 0 ? 2 : 0,
    nextAttemptAt: i % 7 === 0 ? now + 60_000 : 0,
  }),
);
await writeFile(
  join(dir, 'queue.json'),
  `{\n  "version": 2,\n  "files": [\n    ${lines.join(',\n    ')}\n  ]\n}\n`,
);
const store = await openStateStore({ directory: dir });
const metrics = createMetrics({ vehicleId: 'bench-vehicle' });
for (let i = 0; i < 50; i++) metrics.fileUploaded(1_000 + i);
metrics.uploadFailed('network');
metrics.diskUsage(72.5, '/var/log');
const agent = {
  store,
  metrics,
  // The pipeline as the endpoint sees it: paused by an outage (the worst case: every field is filled in).
  pipeline: {
    paused: {
      kind: 'outage' as const,
      since: now - 5_000,
      confirmed: true,
      probes: 3,
      message: 'connect ECONNREFUSED 10.0.0.1:443',
    },
    lastUpload: { at: now - 6_000 },
    lastProgressAt: now - 6_000,
    status: () => ({ inFlight: 0 }),
  },
};
// A port free on loopback now; the endpoint binds it at once.
const probe = createServer();
await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
const port = (probe.address() as AddressInfo).port;
await new Promise<void>((resolve) => probe.close(() => resolve()));
const server = await startMonitoring({
  listen: `127.0.0.1:${port}`,
  agent: () => agent,
  health: new HealthMonitor(),
  now: Date.now,
});
const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });

function get(path: string): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port: server.port, path, agent: keepAlive }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
    })
      .on('error', reject)
      .end();
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

let failed = false;
console.log(
  `${store.queue.size} files queued; ${REQUESTS} requests per path, one at a time, keep-alive; load average ${loadavg()
    .map((n) => n.toFixed(1))
    .join(' ')} on ${cpus().length} cores`,
);
for (const path of ['/metrics', '/healthz']) {
  for (let i = 0; i < 100; i++) await get(path); // warm-up: JIT, the registry's one-time pass
  const times: number[] = [];
  const cpuBefore = process.cpuUsage();
  let last = { status: 0, bytes: 0 };
  for (let i = 0; i < REQUESTS; i++) {
    const start = performance.now();
    last = await get(path);
    times.push(performance.now() - start);
  }
  const cpu = process.cpuUsage(cpuBefore);
  const cpuMsPerRequest = (cpu.user + cpu.system) / 1000 / REQUESTS;
  times.sort((a, b) => a - b);
  const p99 = percentile(times, 99);
  if (p99 >= LIMIT_MS) failed = true;
  console.log(
    `${path.padEnd(9)} status ${last.status}, ${last.bytes} bytes: p50 ${percentile(times, 50).toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, max ${(times.at(-1) ?? NaN).toFixed(2)} ms; CPU ${cpuMsPerRequest.toFixed(3)} ms per request (server and client)${p99 >= LIMIT_MS ? `  OVER ${LIMIT_MS} ms` : ''}`,
  );
}
keepAlive.destroy();
await server.close();
await store.close();
await rm(dir, { recursive: true, force: true });
process.exitCode = failed ? 1 : 0;
