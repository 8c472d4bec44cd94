/**
 * The benchmarks' shaped link: a network namespace joined to the host by a veth pair, its egress shaped with
 * `tc qdisc ... tbf` (netem is not available here), and a TCP forwarder on the host side to a server on loopback.
 * Needs root.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { promisify } from 'node:util';

/** One shaped namespace: its name, the addresses of both ends and the veth names. */
export interface ShapedLink {
  ns: string;
  hostIf: string;
  nsIf: string;
  hostIp: string;
  nsIp: string;
  /** tc's rate, e.g. `50mbit`. */
  rate: string;
}

function sh(command: string, args: string[]): void {
  execFileSync(command, args, { stdio: 'pipe' });
}

/** Creates the namespace (replacing a leftover one); undefined when it works, else why not. */
export function setUpNamespace(link: ShapedLink): string | undefined {
  if (process.getuid?.() !== 0) return 'not root (ip netns and tc need root)';
  try {
    tearDownNamespace(link);
    sh('ip', ['netns', 'add', link.ns]);
    sh('ip', ['link', 'add', link.hostIf, 'type', 'veth', 'peer', 'name', link.nsIf]);
    sh('ip', ['link', 'set', link.nsIf, 'netns', link.ns]);
    sh('ip', ['addr', 'add', `${link.hostIp}/30`, 'dev', link.hostIf]);
    sh('ip', ['link', 'set', link.hostIf, 'up']);
    const inside = (...args: string[]) => sh('ip', ['netns', 'exec', link.ns, ...args]);
    inside('ip', 'addr', 'add', `${link.nsIp}/30`, 'dev', link.nsIf);
    inside('ip', 'link', 'set', link.nsIf, 'up');
    inside('ip', 'link', 'set', 'lo', 'up');
    // Uploads leave the namespace through its end of the pair: shape its egress.
    inside(
      'tc',
      'qdisc',
      'add',
      'dev',
      link.nsIf,
      'root',
      'tbf',
      'rate',
      link.rate,
      'burst',
      '64kb',
      'latency',
      '100ms',
    );
    return undefined;
  } catch (error) {
    tearDownNamespace(link);
    return `network namespace set-up failed: ${(error as { stderr?: Buffer }).stderr?.toString().trim() ?? String(error)}`;
  }
}

export function tearDownNamespace(link: ShapedLink): void {
  spawnSync('ip', ['netns', 'del', link.ns], { stdio: 'ignore' });
  spawnSync('ip', ['link', 'del', link.hostIf], { stdio: 'ignore' });
}

/**
 * The bytes the link's shaper has sent so far, by its own count (`tc -s qdisc`): what tbf meters, every segment's
 * headers included, so their rate against the configured rate is the share of the link in use.
 */
export async function shapedBytes(link: ShapedLink): Promise<number> {
  const { stdout } = await promisify(execFile)('ip', [
    'netns',
    'exec',
    link.ns,
    'tc',
    '-s',
    'qdisc',
    'show',
    'dev',
    link.nsIf,
  ]);
  const sent = /Sent (\d+) bytes/.exec(stdout)?.[1];
  if (sent === undefined) throw new Error(`no tbf statistics on ${link.nsIf}: ${stdout}`);
  return Number(sent);
}

/** A TCP forwarder on `host` to 127.0.0.1:`targetPort`, counting the connections open at once and the traffic. */
export interface Forwarder {
  server: Server;
  port: number;
  /** The most connections open at once since the last reset: a client opens one per request in flight. */
  peak: { open: number; max: number };
  /**
   * Bytes the client sent through the link since the last reset, when the first came, and when `expected` bytes
   * (the file's size) had crossed: the end of the data, before the completion requests and the server's assembly;
   * and when the last byte came (`performance.now()` times). `flowing` is when more than 16 KiB had come (a body is
   * flowing: the requests before it carry headers only), `flowingBytes` the count then.
   */
  traffic: {
    bytes: number;
    expected: number;
    first: number;
    flowing: number;
    flowingBytes: number;
    dataDone: number;
    last: number;
  };
}

/** Starts a new run's count on `traffic`: nothing seen yet, `expected` bytes (the file's size) to come. */
export function resetTraffic(traffic: Forwarder['traffic'], expected: number): void {
  Object.assign(traffic, { bytes: 0, expected, flowing: 0, flowingBytes: 0, dataDone: 0 });
}

/** Bytes after which a client's traffic counts as a body flowing (see {@link Forwarder.traffic}). */
const FLOWING_BYTES = 16 * 1024;

/**
 * The rate of the body bytes on the wire, from the moment a body flowed until the file's size had crossed: what a
 * bandwidth limiter delivers (undefined until both happened).
 */
export function wireRate(traffic: Forwarder['traffic']): number | undefined {
  if (traffic.flowing === 0 || traffic.dataDone <= traffic.flowing) return undefined;
  return ((traffic.expected - traffic.flowingBytes) * 1000) / (traffic.dataDone - traffic.flowing);
}

export async function forwarder(host: string, targetPort: number): Promise<Forwarder> {
  const peak = { open: 0, max: 0 };
  const traffic = {
    bytes: 0,
    expected: Infinity,
    first: 0,
    flowing: 0,
    flowingBytes: 0,
    dataDone: 0,
    last: 0,
  };
  const pipe = (socket: Socket) => {
    peak.max = Math.max(peak.max, ++peak.open);
    socket.once('close', () => peak.open--);
    const upstream = connect(targetPort, '127.0.0.1');
    socket.on('data', (chunk: Buffer) => {
      const now = performance.now();
      if (traffic.bytes === 0) traffic.first = now;
      traffic.bytes += chunk.length;
      traffic.last = now;
      if (traffic.flowing === 0 && traffic.bytes > FLOWING_BYTES) {
        traffic.flowing = now;
        traffic.flowingBytes = traffic.bytes;
      }
      if (traffic.dataDone === 0 && traffic.bytes >= traffic.expected) traffic.dataDone = now;
    });
    socket.pipe(upstream).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  };
  const server = createServer(pipe);
  await new Promise<void>((r) => server.listen(0, host, r));
  return { server, port: (server.address() as { port: number }).port, peak, traffic };
}

/** utime + stime (clock ticks, 100 per second) and peak RSS (VmHWM) of a live process. */
export async function procUsage(pid: number): Promise<{ cpuSeconds: number; peakRssMiB: number }> {
  const stat = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? [];
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return {
    cpuSeconds: (Number(stat[11]) + Number(stat[12])) / 100,
    peakRssMiB: Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024,
  };
}
