/**
 * Metered links end to end: the real `tvm-upload run` process inside a network namespace this test creates, with two
 * veth links named `wlan0` (unmetered) and `wwan0` (metered) that both reach s3rver (through a TCP front on an
 * address of the host side). The route to the endpoint is switched with `ip route replace`. Needs root and
 * `ip netns`; prints SKIP with the reason otherwise.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { openStateStore } from '@tvm/durable-queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnAgent } from './e2e-harness.js';
import {
  configDocument,
  makeWorkspace,
  objects,
  until,
  useLocalS3,
  writeConfig,
  writeLog,
} from './helpers.js';

const NS = `tvmmet${process.pid % 100_000}`;
const HOST_W = `tvmw${process.pid % 100_000}`; // the host side of wlan0
const HOST_C = `tvmc${process.pid % 100_000}`; // the host side of wwan0
const SERVICE_IP = '10.213.9.1'; // where the S3 front listens, on the host side
const WLAN = { host: '10.213.8.1', ns: '10.213.8.2' };
const WWAN = { host: '10.213.8.5', ns: '10.213.8.6' };

function sh(command: string, ...args: string[]): string {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
const inside = (...args: string[]) => sh('ip', 'netns', 'exec', NS, ...args);

function tearDown(): void {
  spawnSync('ip', ['netns', 'del', NS], { stdio: 'ignore' });
  spawnSync('ip', ['link', 'del', HOST_W], { stdio: 'ignore' });
  spawnSync('ip', ['link', 'del', HOST_C], { stdio: 'ignore' });
}

/** Creates the namespace and both links; the reason when it cannot. */
function setUp(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root (ip netns needs root)';
  if (spawnSync('ip', ['-V'], { stdio: 'ignore' }).status !== 0) return 'no ip command (iproute2)';
  try {
    tearDown();
    sh('ip', 'netns', 'add', NS);
    for (const [host, name, net] of [
      [HOST_W, 'wlan0', WLAN],
      [HOST_C, 'wwan0', WWAN],
    ] as const) {
      sh('ip', 'link', 'add', host, 'type', 'veth', 'peer', 'name', name, 'netns', NS);
      sh('ip', 'addr', 'add', `${net.host}/30`, 'dev', host);
      sh('ip', 'link', 'set', host, 'up');
      inside('ip', 'addr', 'add', `${net.ns}/30`, 'dev', name);
      inside('ip', 'link', 'set', name, 'up');
    }
    inside('ip', 'link', 'set', 'lo', 'up');
    sh('ip', 'addr', 'add', `${SERVICE_IP}/32`, 'dev', HOST_W);
    // Replies may come back over the other link after a switch (keep-alive connections keep their source address).
    for (const name of [HOST_W, HOST_C]) sh('sysctl', '-q', '-w', `net.ipv4.conf.${name}.rp_filter=0`);
    inside('sysctl', '-q', '-w', 'net.ipv4.conf.all.rp_filter=0');
    route('wwan0');
    return undefined;
  } catch (error) {
    tearDown();
    return `network namespace set-up failed: ${(error as { stderr?: string }).stderr?.trim() ?? String(error)}`;
  }
}

/** Sends the namespace's traffic to the S3 front over `link`. */
function route(link: 'wlan0' | 'wwan0'): void {
  const via = link === 'wlan0' ? WLAN.host : WWAN.host;
  inside('ip', 'route', 'replace', `${SERVICE_IP}/32`, 'via', via, 'dev', link);
}

function txBytes(link: string): number {
  return Number(inside('cat', `/sys/class/net/${link}/statistics/tx_bytes`).trim());
}

/** A TCP front on SERVICE_IP passing every connection to s3rver on loopback. */
async function startFront(port: number): Promise<{ server: Server; port: number }> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  server.on('close', () => {
    for (const s of sockets) s.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, SERVICE_IP, resolve));
  return { server, port: (server.address() as { port: number }).port };
}

const s3 = useLocalS3();
const skip = setUp();
if (skip) console.log(`SKIP e2e-metered: ${skip}`);
afterAll(tearDown);

describe.skipIf(skip !== undefined)('metered links (network namespace, wlan0 and wwan0)', () => {
  let front: { server: Server; port: number };
  beforeAll(async () => {
    front = await startFront(s3.port);
  });
  afterAll(async () => {
    await new Promise((resolve) => front.server.close(resolve));
  });

  it('on wwan0 a normal file waits and a high one goes within budget; back on wlan0 the waiting files go', async () => {
    const ws = await makeWorkspace();
    const document = configDocument(ws, `http://${SERVICE_IP}:${front.port}`, 't01logs', {
      upload: {
        networks: {
          unmetered: ['wlan*'],
          metered: ['wwan*'],
          metered_daily_budget_mb: 0.3, // 300 000 bytes
          metered_lanes: ['high'],
        },
      },
    });
    const config = await writeConfig(ws, document);
    const terminal = join(ws.logs, 'terminal');
    const files = {
      high: join(terminal, 'crash.log'), // 100 000 bytes, high: fits the budget
      normal: join(terminal, 'session.log'), // normal: the lane rule holds it
      bigHigh: join(terminal, 'core.log'), // 250 000 bytes, high: does not fit what is left, waits whole
    };
    await writeLog(files.high, Buffer.alloc(100_000, 'h'));
    await writeLog(files.normal, Buffer.alloc(20_000, 'n'));
    await writeLog(files.bigHigh, Buffer.alloc(250_000, 'b'));
    // Lanes come from the queue entry's `priority` (what the lanes branch's intake and `tvm-upload upload` write).
    const seed = await openStateStore({
      queueFile: config.upload.queue_file,
      failedFile: config.upload.failed_file,
      registryFile: config.upload.processed_files_registry.registry_file,
    });
    await seed.queue.add({ filepath: files.high, source: 'terminal', size: 100_000, priority: 'high' });
    await seed.queue.add({ filepath: files.normal, source: 'terminal', size: 20_000 });
    await seed.queue.add({ filepath: files.bigHigh, source: 'terminal', size: 250_000, priority: 'high' });
    await seed.close();

    const wwanBefore = txBytes('wwan0');
    const agent = spawnAgent(['run', '--config', ws.configFile], {}, ['ip', 'netns', 'exec', NS]);
    try {
      await agent.waitFor(`Route to S3: over wwan0 (metered) for ${SERVICE_IP}`, 30_000);
      const client = s3.client();
      const key = (name: string) =>
        `vehicle-CN-001/${new Date(Date.now() - 3_600_000).toISOString().slice(0, 10)}/terminal/${name}`;
      await until(async () => (await objects(client, 't01logs')).has(key('crash.log')), 30_000);
      await agent.waitFor(
        /session\.log waits: .*over wwan0 \(metered\): only the lanes high \(and incident\)/,
      );
      await agent.waitFor(
        "core.log waits: the route to S3 is over wwan0 (metered): 0.3 MB do not fit the 0.2 MB left of today's budget",
      );
      expect(txBytes('wwan0') - wwanBefore).toBeGreaterThan(100_000);

      // A normal file that appears while on wwan0 waits too.
      await writeLog(join(terminal, 'live.log'), Buffer.alloc(5_000, 'l'), 0);
      await agent.waitFor(/live\.log waits: .*only the lanes high/, 30_000);
      // Give it time: nothing else goes over the metered link.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      const onWwan = await objects(client, 't01logs');
      expect([...onWwan.keys()].map((k) => k.split('/').pop())).toEqual(['crash.log']);

      // The budget as the file and `tvm-upload status` show it: exactly the request body bytes sent on wwan0.
      const budget = JSON.parse(await readFile(join(ws.state, 'metered-budget.json'), 'utf8')) as {
        usedBytes: number;
      };
      expect(budget.usedBytes).toBe(100_000);
      await until(async () => {
        const status = await runStatus(ws.configFile);
        return status.network?.interface === 'wwan0' && status.network.leftBytes === 200_000;
      }, 20_000);
      const human = spawnAgent(['status', '--config', ws.configFile]);
      await human.exited;
      expect(human.text().join('\n')).toContain(
        'link:          wwan0 (metered); metered budget 0.2 MB of 0.3 MB left today (metered lanes: high, and incident)',
      );

      // Back on WiFi: the periodic check notices within seconds (no new file needed) and the waiting files go.
      const wlanBefore = txBytes('wlan0');
      route('wlan0');
      await agent.waitFor(`Route to S3: over wlan0 (unmetered) for ${SERVICE_IP}`, 30_000);
      await until(async () => (await objects(client, 't01logs')).size === 4, 30_000);
      const all = await objects(client, 't01logs');
      expect(all.get(key('core.log'))?.length).toBe(250_000);
      expect(all.get(key('session.log'))?.length).toBe(20_000);
      expect(txBytes('wlan0') - wlanBefore).toBeGreaterThan(250_000);
      // Nothing sent over wlan0 counts against the metered budget.
      await until(async () => {
        const status = await runStatus(ws.configFile);
        return status.network?.interface === 'wlan0' && status.network.class === 'unmetered';
      }, 20_000);
      const after = JSON.parse(await readFile(join(ws.state, 'metered-budget.json'), 'utf8')) as {
        usedBytes: number;
      };
      expect(after.usedBytes).toBe(100_000);
    } finally {
      agent.child.kill('SIGTERM');
      await agent.exited;
    }
  }, 180_000);
});

interface StatusJson {
  network: { interface: string | null; class: string; leftBytes: number } | null;
}

async function runStatus(configFile: string): Promise<StatusJson> {
  const status = spawnAgent(['status', '--config', configFile, '--json']);
  await status.exited;
  return JSON.parse(status.text().join('\n')) as StatusJson;
}
