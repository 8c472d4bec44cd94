import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { QueueEntry } from '@tvm/durable-queue';
import { createFakeClock, settle, type FakeClock } from '@tvm/test-utils';
import { afterEach, describe, expect, it } from 'vitest';
import { checkConfigText } from '../src/config.js';
import { describeConfig } from '../src/config-summary.js';
import type { Lane } from '../src/lanes.js';
import {
  BudgetStore,
  budgetDay,
  classifyInterface,
  endpointHost,
  LinkWatch,
  matchesInterface,
  MeteredAdmission,
  parseAddress,
  parseBudget,
  parseIpv4Routes,
  parseIpv6Routes,
  routeFor,
  sentMeter,
  type LinkState,
  type RouteTables,
} from '../src/links/index.js';
import { captureLogger } from './helpers.js';
import { admissionOver, defaultRouteOver } from './links-rig.js';
import { MINIMAL_CONFIG } from './fakes.js';

/** /proc/net/route of a vehicle (little-endian host): WiFi default metric 100, modem default 700, AWS range on the modem. */
const IPV4_LE = `Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t0100000A\t0003\t0\t0\t100\t00000000\t0\t0\t0
wwan0\t00000000\t0100400A\t0003\t0\t0\t700\t00000000\t0\t0\t0
eth0\t0000000A\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0
wwan0\t00805F34\t0100400A\t0003\t0\t0\t700\t00F8FFFF\t0\t0\t0
lo\t007100CB\t00000000\t0201\t0\t0\t0\t00FFFFFF\t0\t0\t0
wlan0\t006433C6\t00000000\t0000\t0\t0\t0\t00FFFFFF\t0\t0\t0
`;
/** The same table as a big-endian host prints it. */
const IPV4_BE = `Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t0A000001\t0003\t0\t0\t100\t00000000\t0\t0\t0
wwan0\t345F8000\t0A400001\t0003\t0\t0\t700\tFFFFF800\t0\t0\t0
`;
/** /proc/net/ipv6_route: default over wlan0, 2001:db8::/32 over wwan0, a local address, the kernel's reject default. */
const IPV6 = `20010db8000000000000000000000000 20 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     wwan0
20010db8000000000000000000000005 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001    wwan0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000002 00000000 00000003    wlan0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
20010db9000000000000000000000000 20 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000001 00000000 00200201       lo
`;

describe('routing table parser and matcher', () => {
  const v4 = parseIpv4Routes(IPV4_LE, true);
  const v6 = parseIpv6Routes(IPV6);

  it('reads /proc/net/route in host byte order, dropping the header and routes that are down', () => {
    expect(v4.map((r) => `${r.iface}/${r.prefix}/${r.metric}${r.reject ? '/reject' : ''}`)).toEqual([
      'eth0/0/100',
      'wwan0/0/700',
      'eth0/24/100',
      'wwan0/21/700',
      'lo/24/0/reject',
    ]);
    expect(routeFor(parseIpv4Routes(IPV4_BE, false), '52.95.130.7')?.iface).toBe('wwan0');
    expect(routeFor(parseIpv4Routes(IPV4_BE, false), '8.8.8.8')?.iface).toBe('eth0');
  });

  it('picks the longest prefix, then the lowest metric; a reject route or no route means none', () => {
    expect(routeFor(v4, '52.95.130.7')?.iface).toBe('wwan0'); // /21 beats the defaults
    expect(routeFor(v4, '52.95.136.1')?.iface).toBe('eth0'); // just outside the /21
    expect(routeFor(v4, '10.0.0.77')?.iface).toBe('eth0');
    expect(routeFor(v4, '8.8.8.8')?.iface).toBe('eth0'); // metric 100 beats 700
    expect(routeFor(v4, '203.0.113.9')).toBeUndefined(); // unreachable
    expect(routeFor(v4, '198.51.100.1')?.iface).toBe('eth0'); // the route there is down
    expect(routeFor([], '8.8.8.8')).toBeUndefined();
    expect(routeFor(v4, 'not-an-address')).toBeUndefined();
    // The metric decides between equal prefixes whatever the order.
    expect(routeFor([...v4].reverse(), '8.8.8.8')?.iface).toBe('eth0');
  });

  it('matches IPv6 the same way; local addresses and loopback go over lo', () => {
    expect(routeFor(v6, '2001:db8:1::9')?.iface).toBe('wwan0');
    expect(routeFor(v6, '2001:db8::5')?.iface).toBe('lo');
    expect(routeFor(v6, '2600:1f18::1')?.iface).toBe('wlan0'); // default 1024 beats the reject default's ffffffff
    expect(routeFor(v6, '2001:db9::1')).toBeUndefined(); // reject /32
    expect(routeFor(v6, '::1')?.iface).toBe('lo');
    expect(routeFor(v4, '127.0.0.1')?.iface).toBe('lo');
    // An IPv4-mapped address is matched against IPv4 routes.
    expect(routeFor([...v4, ...v6], '::ffff:52.95.130.7')?.iface).toBe('wwan0');
  });

  it('parses every IPv6 spelling to one value', () => {
    const full = parseAddress('2001:0db8:0000:0000:0000:0000:0000:0001')?.value;
    expect(parseAddress('2001:db8::1')?.value).toBe(full);
    expect(parseAddress('[2001:db8::1]')?.value).toBe(full);
    expect(parseAddress('2001:db8::1%eth0')?.value).toBe(full);
    expect(parseAddress('::')?.value).toBe(0n);
    expect(parseAddress('::ffff:1.2.3.4')).toEqual({ family: 4, value: 0x01020304n });
    expect(parseAddress('64:ff9b::1.2.3.4')?.value).toBe((0x64ff9bn << 96n) | 0x01020304n);
    expect(parseAddress('1.2.3')).toBeUndefined();
  });
});

describe('interface classes', () => {
  const lists = { unmetered: ['wlan*', 'eth*'], metered: ['wwan*', 'usb?'] };
  it('matches globs on the whole name; metered wins a name in both lists; unlisted is neither', () => {
    expect(matchesInterface('wlan*', 'wlan0')).toBe(true);
    expect(matchesInterface('wlan*', 'xwlan0')).toBe(false);
    expect(matchesInterface('usb?', 'usb10')).toBe(false);
    expect(matchesInterface('br.lan', 'br-lan')).toBe(false); // `.` is literal
    expect(classifyInterface('wlan0', lists)).toBe('unmetered');
    expect(classifyInterface('wwan0', lists)).toBe('metered');
    expect(classifyInterface('usb0', lists)).toBe('metered');
    expect(classifyInterface('tun0', lists)).toBe('neither');
    expect(classifyInterface(undefined, lists)).toBe('neither');
    expect(classifyInterface('eth0', { unmetered: ['eth*'], metered: ['eth0'] })).toBe('metered');
  });
});

describe('the S3 host whose route counts', () => {
  const base = { bucket: 't01logs', region: 'cn-north-1', force_path_style: false };
  it('follows the SDK: literal IP as is, else virtual-hosted bucket names on the endpoint or the regional host', () => {
    expect(endpointHost({ ...base, endpoint: 'http://10.213.9.1:4568' })).toEqual({
      host: '10.213.9.1',
      literal: true,
    });
    expect(endpointHost({ ...base, endpoint: 'http://[fd00::5]:9000' })).toEqual({
      host: 'fd00::5',
      literal: true,
    });
    expect(endpointHost(base)).toEqual({ host: 't01logs.s3.cn-north-1.amazonaws.com.cn', literal: false });
    expect(endpointHost({ ...base, region: 'eu-west-1', force_path_style: true })).toEqual({
      host: 's3.eu-west-1.amazonaws.com',
      literal: false,
    });
    expect(endpointHost({ ...base, endpoint: 'https://minio.depot.lan' })).toEqual({
      host: 't01logs.minio.depot.lan',
      literal: false,
    });
  });
});

describe('LinkWatch', () => {
  const lists = { unmetered: ['wlan*'], metered: ['wwan*'] };
  const table = defaultRouteOver;
  it('re-reads the tables at most once per maxAgeMs and classifies the route to a literal endpoint', async () => {
    const clock = createFakeClock();
    let tables = table('wlan0');
    let reads = 0;
    const watch = new LinkWatch({
      host: { host: '10.213.9.1', literal: true },
      lists,
      clock,
      logger: captureLogger(),
      readTables: () => (reads++, tables),
    });
    expect(watch.current()).toEqual({ iface: 'wlan0', class: 'unmetered', address: '10.213.9.1' });
    tables = table('wwan0');
    expect(watch.current().iface).toBe('wlan0');
    await clock.advance(1000);
    expect(watch.current()).toMatchObject({ iface: 'wwan0', class: 'metered' });
    expect(reads).toBe(2);
  });

  it('resolves a name in the background; until then (or when it fails) the default route stands in', async () => {
    const clock = createFakeClock();
    const tables: RouteTables = {
      ipv4: `Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\nwlan0\t00000000\t00000000\t0001\t0\t0\t0\t00000000\nwwan0\t00805F34\t00000000\t0001\t0\t0\t0\t00F8FFFF\n`,
      ipv6: '',
    };
    const asked: string[] = [];
    let answer: Promise<string[]> = Promise.reject(new Error('EAI_AGAIN'));
    answer.catch(() => undefined);
    const watch = new LinkWatch({
      host: { host: 't01logs.s3.cn-north-1.amazonaws.com.cn', literal: false },
      lists,
      clock,
      logger: captureLogger(),
      readTables: () => tables,
      resolve: (host) => (asked.push(host), answer),
    });
    expect(await watch.refresh()).toEqual({ iface: 'wlan0', class: 'unmetered', address: undefined });
    answer = Promise.resolve(['52.95.130.7', '2001:db8::1']);
    await clock.advance(300_000);
    expect(await watch.refresh()).toEqual({ iface: 'wwan0', class: 'metered', address: '52.95.130.7' });
    expect(asked).toEqual([
      't01logs.s3.cn-north-1.amazonaws.com.cn',
      't01logs.s3.cn-north-1.amazonaws.com.cn',
    ]);
  });

  it('a name lookup that hangs holds up neither the start nor the periodic check: a route change is noticed within seconds', async () => {
    const clock = createFakeClock();
    const logger = captureLogger();
    let tables = table('wlan0');
    // getaddrinfo asking a DNS server the old link reached: no answer for minutes.
    const asked: number[] = [];
    const watch = new LinkWatch({
      host: { host: 't01logs.s3.cn-north-1.amazonaws.com.cn', literal: false },
      lists,
      clock,
      logger,
      readTables: () => tables,
      resolve: () => (asked.push(clock.now()), new Promise<string[]>(() => undefined)),
      resolveWaitMs: 2_000,
    });
    let first: LinkState | undefined;
    watch.refresh().then(
      (link) => (first = link),
      () => undefined,
    );
    await clock.advance(2_000);
    expect(first).toEqual({ iface: 'wlan0', class: 'unmetered', address: undefined });

    let wakes = 0;
    const { admission } = await admissionOver(watch, {
      clock,
      logger,
      wake: () => void wakes++,
      budgetBytes: 1000,
    });
    admission.start();
    tables = table('wwan0');
    await clock.advance(12_000); // one check (10 s) and its bounded wait for the lookup (2 s)
    await settle();
    expect(wakes).toBe(1);
    expect(logger.lines).toContain('Route to S3: over wwan0 (metered)');
    tables = table('wlan0');
    await clock.advance(12_000);
    await settle();
    expect(wakes).toBe(2);
    // One lookup at a time: the hanging one is not asked again on top of itself.
    expect(asked).toHaveLength(1);
    admission.stop();
  });
});

describe('sent bytes from the uploader progress', () => {
  it('counts a single PUT once, takes the first multipart report as a baseline, and never counts twice', () => {
    const single = sentMeter(false);
    expect(single({ bytesSent: 500, totalBytes: 500 })).toBe(500);
    const fresh = sentMeter(false);
    expect([0, 100, 200, 250].map((b) => fresh({ bytesSent: b, totalBytes: 250 }))).toEqual([
      0, 100, 100, 50,
    ]);
    const resumed = sentMeter(true);
    expect([200, 250, 250].map((b) => resumed({ bytesSent: b, totalBytes: 250 }))).toEqual([0, 50, 0]);
  });
});

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0))
    // A budget write may still be landing: rm retries a directory that filled meanwhile.
    await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
});
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tvm-links-'));
  dirs.push(dir);
  return dir;
}

describe('the daily budget', () => {
  it('belongs to the local day in upload.timezone and resets at local midnight', () => {
    // 2026-12-01T15:59:59Z is 23:59:59 in Shanghai, one second before its midnight.
    const before = Date.UTC(2026, 11, 1, 15, 59, 59);
    expect(budgetDay(before, 'Asia/Shanghai')).toBe('2026-12-01');
    expect(budgetDay(before + 1000, 'Asia/Shanghai')).toBe('2026-12-02');
    expect(budgetDay(before + 1000, 'UTC')).toBe('2026-12-01');
  });

  it('is persisted, survives a reopen, resets at midnight, and a corrupt file is set aside', async () => {
    const dir = await tempDir();
    const path = join(dir, 'metered-budget.json');
    const clock = createFakeClock(Date.UTC(2026, 11, 1, 15, 0, 0)); // 23:00 in Shanghai
    const logger = captureLogger();
    const tz = () => 'Asia/Shanghai';
    const first = await BudgetStore.open(path, clock, tz, logger);
    first.add(1500);
    first.add(500);
    await first.flush();
    expect(parseBudget(await readFile(path, 'utf8'))).toEqual({ day: '2026-12-01', usedBytes: 2000 });
    const again = await BudgetStore.open(path, clock, tz, logger);
    expect(again.usedToday()).toBe(2000);
    await clock.advance(3_600_000); // Shanghai midnight
    expect(again.usedToday()).toBe(0);
    again.add(10);
    await again.flush();
    expect(parseBudget(await readFile(path, 'utf8'))).toEqual({ day: '2026-12-02', usedBytes: 10 });

    await writeFile(path, '{"day": "2026-12-02", "usedBy');
    const repaired = await BudgetStore.open(path, clock, tz, logger);
    expect(repaired.usedToday()).toBe(0);
    expect((await readdir(dir)).filter((n) => n.startsWith('metered-budget.json.corrupt-'))).toHaveLength(1);
    expect(logger.lines.join('\n')).toMatch(/metered-budget\.json is corrupt; kept it as .*corrupt-/);
    expect(parseBudget('{"day":"2026-12-02","usedBytes":-1}')).toBeUndefined();
  });
});

/** The admission over a link the test sets, with a budget file in a temp directory. */
async function admissionRig(options: { budgetBytes?: number; meteredLanes?: Lane[] } = {}) {
  const dir = await tempDir();
  const clock: FakeClock = createFakeClock(Date.UTC(2026, 11, 1, 10, 0, 0));
  const logger = captureLogger();
  const budget = await BudgetStore.open(join(dir, 'b.json'), clock, () => 'UTC', logger);
  let link: LinkState = { iface: 'wlan0', class: 'unmetered', address: '10.213.9.1' };
  let wakes = 0;
  const admission = new MeteredAdmission({
    link: () => link,
    refresh: () => Promise.resolve(link),
    budget,
    rule: () => ({
      meteredLanes: options.meteredLanes ?? ['high'],
      budgetBytes: options.budgetBytes ?? 1000,
    }),
    clock,
    logger,
    wake: () => void wakes++,
    checkEveryMs: 10_000,
  });
  const entry = (name: string, size: number): QueueEntry => ({
    filepath: `/logs/${name}`,
    size,
    detectedAt: 0,
    attempts: 0,
    nextAttemptAt: 0,
  });
  return {
    clock,
    budget,
    admission,
    logger,
    entry,
    setLink: (iface: string, cls: LinkState['class']) => {
      link = { iface, class: cls, address: '10.213.9.1' };
    },
    wakes: () => wakes,
  };
}

describe('MeteredAdmission', () => {
  it('admits everything on unmetered and unlisted links, and counts nothing there', async () => {
    const r = await admissionRig();
    expect(r.admission.mayStart(r.entry('big', 10_000), 'low', 10_000)).toEqual({ ok: true });
    r.admission.sent(r.entry('big', 10_000), 'low', 10_000);
    r.setLink('tun0', 'neither');
    expect(r.admission.mayStart(r.entry('n', 5000), 'normal', 5000)).toEqual({ ok: true });
    expect(r.budget.usedToday()).toBe(0);
  });

  it('on a metered link lets only metered_lanes (and incident) go', async () => {
    const r = await admissionRig({ meteredLanes: ['high'] });
    r.setLink('wwan0', 'metered');
    const normal = r.admission.mayStart(r.entry('n', 10), 'normal', 10);
    expect(normal).toEqual({
      ok: false,
      reason:
        'the route to S3 is over wwan0 (metered): only the lanes high (and incident) go there, this file is normal',
    });
    expect(r.admission.mayStart(r.entry('l', 10), 'low', 10).ok).toBe(false);
    expect(r.admission.mayStart(r.entry('h', 10), 'high', 10)).toEqual({ ok: true });
    const none = await admissionRig({ meteredLanes: [] });
    none.setLink('wwan0', 'metered');
    expect(none.admission.mayStart(none.entry('h', 10), 'high', 10).ok).toBe(false);
    expect(none.admission.mayStart(none.entry('i', 10), 'incident', 10)).toEqual({ ok: true });
  });

  it('keeps a file that does not fit the rest of the day whole, counts incident bytes too, resets at midnight', async () => {
    const r = await admissionRig({ budgetBytes: 1000 });
    r.setLink('wwan0', 'metered');
    const a = r.entry('a', 600);
    expect(r.admission.mayStart(a, 'high', 600)).toEqual({ ok: true });
    r.admission.sent(a, 'high', 600);
    expect(r.budget.usedToday()).toBe(600);
    const b = r.admission.mayStart(r.entry('b', 401), 'high', 401);
    expect(b).toEqual({
      ok: false,
      reason: "the route to S3 is over wwan0 (metered): 401 B do not fit the 400 B left of today's budget",
    });
    expect(r.admission.mayStart(r.entry('i', 400), 'incident', 400)).toEqual({ ok: true });
    r.admission.sent(r.entry('i', 400), 'incident', 400);
    expect(r.admission.report()).toMatchObject({
      iface: 'wwan0',
      class: 'metered',
      usedBytes: 1000,
      leftBytes: 0,
    });
    expect(r.admission.mayStart(r.entry('one', 1), 'high', 1).ok).toBe(false);
    // Midnight UTC: the periodic check notices the new day and wakes the pipeline.
    r.admission.start();
    const wakesBefore = r.wakes();
    await r.clock.set(Date.UTC(2026, 11, 2, 0, 0, 5));
    await r.clock.advance(10_000);
    await settle();
    expect(r.wakes()).toBeGreaterThan(wakesBefore);
    expect(r.logger.lines.join('\n')).toContain('Metered budget reset for 2026-12-02');
    expect(r.admission.mayStart(r.entry('b', 401), 'high', 401)).toEqual({ ok: true });
    r.admission.stop();
  });

  it('promises a started upload its bytes, so uploads in flight together cannot overspend', async () => {
    const r = await admissionRig({ budgetBytes: 1000 });
    r.setLink('wwan0', 'metered');
    const a = r.entry('a', 700);
    expect(r.admission.mayStart(a, 'high', 700).ok).toBe(true);
    expect(r.admission.mayStart(r.entry('b', 400), 'high', 400).ok).toBe(false);
    r.admission.sent(a, 'high', 350);
    expect(r.admission.mayStart(r.entry('c', 300), 'high', 300).ok).toBe(true); // 1000 - 350 - 350 promised
    // A promise from an upload that stalled without progress is dropped after staleAfterMs.
    await r.clock.advance(300_001);
    expect(r.admission.mayStart(r.entry('d', 650), 'high', 650).ok).toBe(true);
  });

  it('follows a route change mid-upload: the next part obeys the new rule (mayContinue)', async () => {
    const r = await admissionRig({ budgetBytes: 1000 });
    const n = r.entry('n', 5000);
    expect(r.admission.mayStart(n, 'normal', 5000).ok).toBe(true); // on wlan0
    r.admission.sent(n, 'normal', 2000);
    expect(r.admission.mayContinue(n, 'normal')).toBeUndefined();
    r.setLink('wwan0', 'metered');
    expect(r.admission.mayContinue(n, 'normal')).toMatch(/only the lanes high .* this file is normal/);
    const h = r.entry('h', 1500);
    expect(r.admission.mayStart(h, 'high', 0).ok).toBe(true); // started elsewhere before; re-admitted at 0 here
    r.setLink('wlan0', 'unmetered');
    expect(r.admission.mayStart(h, 'high', 1500).ok).toBe(true);
    r.admission.sent(h, 'high', 700);
    r.setLink('wwan0', 'metered');
    // 800 bytes left to send fit the 1000 of the budget: it goes on, and is promised them.
    expect(r.admission.mayContinue(h, 'high')).toBeUndefined();
    expect(r.admission.mayStart(r.entry('x', 201), 'high', 201).ok).toBe(false);
    expect(r.admission.mayContinue(r.entry('big', 5000), 'high')).toMatch(/do not fit/);
    expect(r.budget.usedToday()).toBe(0);
  });

  it('notices a route change on its timer with no upload asking, and wakes the pipeline', async () => {
    const r = await admissionRig();
    r.admission.mayStart(r.entry('x', 1), 'normal', 1); // the first reading
    r.admission.start();
    await r.clock.advance(10_000);
    expect(r.wakes()).toBe(0);
    r.setLink('wwan0', 'metered');
    await r.clock.advance(10_000);
    await settle();
    expect(r.wakes()).toBe(1);
    expect(r.logger.lines.join('\n')).toContain('Route to S3: over wwan0 (metered) for 10.213.9.1');
    r.admission.stop();
  });
});

describe('upload.networks in the config', () => {
  const base = MINIMAL_CONFIG;
  it('is absent by default; present, every key has its default; check-config knows every key and shows them', () => {
    expect(checkConfigText(base, { env: {} }).config?.upload.networks).toBeUndefined();
    expect(describeConfig(checkConfigText(base, { env: {} }).config!)).toContain(
      'networks: no metered links (upload.networks not set)',
    );
    expect(checkConfigText(`${base}upload:\n  networks: {}\n`, { env: {} }).config?.upload.networks).toEqual({
      unmetered: ['wlan*', 'eth*'],
      metered: ['wwan*', 'usb*', 'ppp*'],
      metered_daily_budget_mb: 200,
      metered_lanes: ['high'],
    });
    const full = checkConfigText(
      `${base}upload:\n  networks:\n    unmetered: ["wlan*", "eth*"]\n    metered: ["wwan*", "usb*"]\n    metered_daily_budget_mb: 200\n    metered_lanes: [high]\n`,
      { env: {} },
    );
    expect(full.warnings).toEqual([]);
    expect(full.problems).toEqual([]);
    expect(describeConfig(full.config!)).toContain(
      'networks: metered wwan*, usb*; unmetered wlan*, eth*; on metered links only high (and incident), 200 MB a day',
    );
  });

  it('rejects bad values with the key path', () => {
    const bad = checkConfigText(
      `${base}upload:\n  networks:\n    metered_lanes: [urgent]\n    metered_daily_budget_mb: -1\n    metered: wwan0\n    unmetred: []\n`,
      { env: {} },
    );
    expect(bad.problems.map((p) => `${p.key}: ${p.message}`)).toEqual([
      'upload.networks.metered_lanes[0]: must be one of incident, high, normal, low, got "urgent"',
      'upload.networks.metered_daily_budget_mb: must be a number of megabytes (10^6 bytes) >= 0, got -1',
      'upload.networks.metered: must be a list of interface name globs such as ["wlan*", "eth0"], got "wwan0"',
      'upload.networks.unmetred: unknown key; did you mean `unmetered`?',
    ]);
  });
});
