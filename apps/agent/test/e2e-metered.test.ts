/**
 * Metered links end to end: the real `tvm-upload run` process inside a network namespace this test creates, with two
 * veth links named `wlan0` (unmetered) and `wwan0` (metered) that both reach s3rver (through an HTTP front on an
 * address of the host side, which counts the requests as S3 would). The route to the endpoint is switched with
 * `ip route replace`, also while a multipart upload is under way. Needs root and `ip netns`; prints SKIP with the
 * reason otherwise.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { openStateStore } from '@tvm/durable-queue';
import { startMultipartShim, type MultipartShim } from '@tvm/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCountingFront, type CountingFront, type Seen } from './counting-front.js';
import { spawnAgent, type AgentProcess } from './e2e-harness.js';
import {
  configDocument,
  makeWorkspace,
  merge,
  objects,
  until,
  useLocalS3,
  writeConfig,
  writeLog,
  type Tree,
  type Workspace,
} from './helpers.js';

const NS = `tvmmet${process.pid % 100_000}`;
const HOST_W = `tvmw${process.pid % 100_000}`; // the host side of wlan0
const HOST_C = `tvmc${process.pid % 100_000}`; // the host side of wwan0
const SERVICE_IP = '10.213.9.1'; // where the S3 front listens, on the host side
const WLAN = { host: '10.213.8.1', ns: '10.213.8.2' };
const WWAN = { host: '10.213.8.5', ns: '10.213.8.6' };
const PART = 5 * 1024 * 1024; // s3.part_size_mb: 5

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

const s3 = useLocalS3();
const skip = setUp();
if (skip) console.log(`SKIP e2e-metered: ${skip}`);
afterAll(tearDown);

describe.skipIf(skip !== undefined)('metered links (network namespace, wlan0 and wwan0)', () => {
  let shim: MultipartShim;
  let front: CountingFront;
  beforeAll(async () => {
    // s3rver behind the multipart shim (ListParts, ListMultipartUploads, as S3 has them), reached over either link
    // through a front that counts every request (CreateMultipartUpload, each UploadPart) as S3 would.
    shim = await startMultipartShim({ port: s3.port, directory: s3.directory });
    front = await startCountingFront(shim.port, SERVICE_IP);
  });
  afterAll(async () => {
    await front.close();
    await shim.close();
  });

  it('on wwan0 a normal file waits and a high one goes within budget; back on wlan0 the waiting files go', async () => {
    const ws = await makeWorkspace();
    const document = configDocument(ws, front.endpoint, 't01logs', {
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
    const agent = runInNamespace(ws.configFile);
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
      expect(await budgetUsed(ws.state)).toBe(100_000);
      await untilStatus(ws.configFile, { interface: 'wwan0', leftBytes: 200_000 });
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
      await untilStatus(ws.configFile, { interface: 'wlan0', class: 'unmetered' });
      expect(await budgetUsed(ws.state)).toBe(100_000);
    } finally {
      agent.child.kill('SIGTERM');
      await agent.exited;
    }
  }, 180_000);

  it('a switch to wwan0 mid-upload stops a normal multipart file after its parts in flight; back on wlan0 it completes with the same UploadId and no part sent twice', async () => {
    const ws = await makeWorkspace();
    // Two parts in flight: a pair takes over 3 s, so the switch lands while parts 3 and 4 are on their way and the
    // route reading part 5 asks with is newer than the switch.
    await writeConfig(ws, shapedConfig(ws, front.endpoint, 2, {}));
    const bag = join(ws.logs, 'ros', 'run.bag'); // normal lane: the lane rule keeps it off wwan0
    const body = randomBytes(6 * PART);
    await writeLog(bag, body);
    const requests = (op: Seen['op']) =>
      front.seen.filter((r) => r.op === op && r.key.endsWith('/ros/run.bag'));
    const parts = () => requests('UploadPart');

    route('wlan0');
    const agent = runInNamespace(ws.configFile);
    const routeLines = (iface: string) => routeLog(agent, iface).length;
    try {
      await agent.waitFor(`Route to S3: over wlan0 (unmetered) for ${SERVICE_IP}`, 30_000);
      // Parts 1 and 2 acknowledged over wlan0, parts 3 and 4 on their way: the route switches to wwan0.
      await until(() => parts().length >= 4, 30_000, 'parts 3 and 4 under way');
      const wwanBefore = txBytes('wwan0');
      route('wwan0');
      const switchedAt = Date.now();
      const inFlight = parts().filter((r) => r.end === undefined);
      expect(inFlight.map((r) => r.partNumber).sort()).toEqual([3, 4]);

      // The parts in flight finish (over wwan0 now); no further part starts.
      await agent.waitFor(
        /Upload of .*run\.bag paused after its current part \(the route to S3 is over wwan0 \(metered\): only the lanes high \(and incident\) go there, this file is normal\); it resumes later/,
        30_000,
      );
      expect(routeLines('wwan0')).toBe(1);
      expect(inFlight.every((r) => r.status === 200 && r.bodyBytes === PART)).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      expect(parts()).toHaveLength(4);
      const onWwan = txBytes('wwan0') - wwanBefore;
      // Bytes on wwan0: the rest of the two parts in flight (IP and TCP headers: a few %), nothing more.
      expect(onWwan).toBeLessThan(2 * PART * 1.06);
      expect(onWwan).toBeGreaterThan(PART); // they moved to wwan0 with the route

      // The multipart upload is kept: one CreateMultipartUpload, its UploadId in S3 and in the queue entry.
      expect(requests('CreateMultipartUpload')).toHaveLength(1);
      const uploadId = parts()[0]?.uploadId;
      expect(parts().every((r) => r.uploadId === uploadId)).toBe(true);
      const pending = (
        await s3
          .client({ endpoint: shim.endpoint })
          .send(new ListMultipartUploadsCommand({ Bucket: 't01logs' }))
      ).Uploads;
      expect(pending?.map((u) => [u.Key?.split('/').pop(), u.UploadId])).toEqual([['run.bag', uploadId]]);
      // As `tvm-upload queue --json` shows it: queued, no attempt counted, four parts done in that upload.
      const queue = spawnAgent(['queue', '--config', ws.configFile, '--json']);
      await queue.exited;
      expect(JSON.parse(queue.text().join('\n'))).toMatchObject([
        { filepath: bag, attempts: 0, multipart: { uploadId, partsDone: 4 } },
      ]);
      await untilStatus(ws.configFile, { interface: 'wwan0', class: 'metered' });

      // Back on WiFi with no new file: the periodic check notices (every 10 s) and the upload resumes.
      const wlanBefore = txBytes('wlan0');
      const wwanPaused = txBytes('wwan0');
      route('wlan0');
      const backAt = Date.now();
      await until(() => routeLines('wlan0') === 2, 30_000, 'the route back to wlan0 noticed');
      expect(Date.now() - backAt).toBeLessThan(15_000);
      expect(parts().filter((r) => r.start > switchedAt && r.start < backAt)).toEqual([]);
      await agent.waitFor(/Uploaded .*run\.bag/, 30_000);

      // Parts 5 and 6 over wlan0; no part sent twice, one multipart upload from start to end.
      expect(
        parts()
          .map((r) => r.partNumber)
          .sort(),
      ).toEqual([1, 2, 3, 4, 5, 6]);
      expect(parts().every((r) => r.uploadId === uploadId)).toBe(true);
      expect(requests('CreateMultipartUpload')).toHaveLength(1);
      expect(requests('CompleteMultipartUpload')).toHaveLength(1);
      expect(txBytes('wlan0') - wlanBefore).toBeGreaterThan(2 * PART);
      expect(txBytes('wwan0') - wwanPaused).toBeLessThan(64 * 1024);
      const stored = await objects(s3.client(), 't01logs');
      const [key] = [...stored.keys()].filter((k) => k.endsWith('/ros/run.bag'));
      expect(stored.get(key ?? '')?.equals(body)).toBe(true);
      // The two parts that finished on wwan0 count against the metered budget (S3 acknowledged them there).
      expect(await budgetUsed(ws.state)).toBe(2 * PART);
    } finally {
      agent.child.kill('SIGTERM');
      await agent.exited;
    }
  }, 90_000);

  it('a high multipart file whose rest does not fit the budget left after a switch to wwan0 waits whole', async () => {
    const ws = await makeWorkspace();
    // One part in flight: a part takes over 1.5 s, longer than a route reading lives.
    await writeConfig(
      ws,
      shapedConfig(ws, front.endpoint, 1, {
        upload: {
          priority_rules: [{ pattern: '*.core', priority: 'high' }],
          networks: { metered_daily_budget_mb: 8 },
        },
      }),
    );
    const core = join(ws.logs, 'terminal', 'planner.core');
    await writeLog(core, randomBytes(4 * PART));
    const requests = (op: Seen['op']) =>
      front.seen.filter((r) => r.op === op && r.key.endsWith('/terminal/planner.core'));
    const parts = () => requests('UploadPart');

    route('wlan0');
    const agent = runInNamespace(ws.configFile);
    try {
      await agent.waitFor(`Route to S3: over wlan0 (unmetered) for ${SERVICE_IP}`, 30_000);
      await until(() => parts().length >= 2, 30_000, 'part 2 under way');
      route('wwan0');
      // Part 2 finishes on wwan0 and counts (5.2 MB of 8 MB); the 10.5 MB still to send do not fit the rest.
      await agent.waitFor(
        /Upload of .*planner\.core paused after its current part \(the route to S3 is over wwan0 \(metered\): 10\.5 MB do not fit the 2\.8 MB left of today's budget\); it resumes later/,
        30_000,
      );
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      expect(parts().map((r) => r.partNumber)).toEqual([1, 2]);
      expect(requests('CreateMultipartUpload')).toHaveLength(1);
      expect(await budgetUsed(ws.state)).toBe(PART);
      await untilStatus(ws.configFile, { interface: 'wwan0', leftBytes: 8_000_000 - PART });
    } finally {
      agent.child.kill('SIGTERM');
      await agent.exited;
    }
  }, 60_000);
});

/** The agent's `Route to S3: over <iface>` lines so far. */
function routeLog(agent: AgentProcess, iface: string): string[] {
  return agent.text().filter((line) => line.includes(`Route to S3: over ${iface} `));
}

/**
 * A config whose multipart uploads are slow enough to switch the route under: 5 MiB parts, 3 MiB/s for the whole
 * agent (a part alone takes over 1.5 s, two at once over 3 s, while a route reading lives 1 s), `concurrency` files
 * and parts in flight; wlan* unmetered, wwan* metered for the high lane; `extra` merged over it.
 */
function shapedConfig(ws: Workspace, endpoint: string, concurrency: number, extra: Tree): Tree {
  const shaped = configDocument(ws, endpoint, 't01logs', {
    s3: { multipart_threshold_mb: 5, part_size_mb: 5, concurrency },
    upload: {
      bandwidth_limit: '3MiB/s',
      networks: { unmetered: ['wlan*'], metered: ['wwan*'], metered_lanes: ['high'] },
    },
  });
  return merge(shaped, extra);
}

/** `tvm-upload run` inside the namespace. */
function runInNamespace(configFile: string): AgentProcess {
  return spawnAgent(['run', '--config', configFile], {}, ['ip', 'netns', 'exec', NS]);
}

/** The bytes `metered-budget.json` counts for today. */
async function budgetUsed(state: string): Promise<number> {
  return (JSON.parse(await readFile(join(state, 'metered-budget.json'), 'utf8')) as { usedBytes: number })
    .usedBytes;
}

interface StatusJson {
  network: { interface: string | null; class: string; leftBytes: number } | null;
}

async function runStatus(configFile: string): Promise<StatusJson> {
  const status = spawnAgent(['status', '--config', configFile, '--json']);
  await status.exited;
  return JSON.parse(status.text().join('\n')) as StatusJson;
}

/** Waits until `tvm-upload status --json` (from the status file the daemon rewrites every 10 s) shows `network`. */
async function untilStatus(
  configFile: string,
  network: Partial<NonNullable<StatusJson['network']>>,
): Promise<void> {
  await until(
    async () => {
      const shown = (await runStatus(configFile)).network as Record<string, unknown> | null;
      return shown !== null && Object.entries(network).every(([name, value]) => shown[name] === value);
    },
    20_000,
    `tvm-upload status showing ${JSON.stringify(network)}`,
  );
}
