import { isIPv4, isIPv6 } from 'node:net';

/**
 * One route of the kernel's main routing table, as `/proc/net/route` (IPv4) and `/proc/net/ipv6_route` (IPv6) show
 * it. Addresses are kept as big integers in network order so that IPv4 and IPv6 match with one rule.
 */
export interface Route {
  family: 4 | 6;
  iface: string;
  /** The destination network, `bits` long. */
  destination: bigint;
  /** Prefix length in bits (0 = the default route). */
  prefix: number;
  metric: number;
  /** An unreachable or prohibit route: traffic it matches goes nowhere. */
  reject?: true;
}

/** Route flags (linux/route.h, linux/ipv6_route.h). */
const RTF_UP = 0x1;
const RTF_REJECT = 0x200;
const RTF_LOCAL = 0x8000_0000;

/**
 * Parses `/proc/net/route`. Destination and mask are printed in the host's byte order (`littleEndian` on x86 and
 * ARM): "0100A8C0" is 192.168.0.1 there. Routes that are down are left out, and so are lines that do not parse (the
 * header); reject routes (unreachable, prohibit) are kept and marked.
 */
export function parseIpv4Routes(text: string, littleEndian = true): Route[] {
  const routes: Route[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const [iface, dest, , flagsHex, , , metricText, maskHex] = f as [string, ...string[]];
    if (!/^[0-9A-Fa-f]{8}$/.test(dest ?? '') || !/^[0-9A-Fa-f]{8}$/.test(maskHex ?? '')) continue;
    const flags = Number.parseInt(flagsHex ?? '', 16);
    const metric = Number(metricText);
    if (!Number.isFinite(flags) || !Number.isFinite(metric)) continue;
    if ((flags & RTF_UP) === 0) continue;
    const mask = hostOrder(maskHex as string, littleEndian);
    routes.push({
      family: 4,
      iface,
      destination: BigInt(hostOrder(dest as string, littleEndian)),
      prefix: popcount32(mask),
      metric,
      ...((flags & RTF_REJECT) !== 0 ? { reject: true as const } : {}),
    });
  }
  return routes;
}

/**
 * Parses `/proc/net/ipv6_route`: destination (32 hex digits, network order), its prefix length (hex), source and
 * its prefix, next hop, metric (hex), refcount, use, flags (hex), interface. Local routes (the host's own addresses)
 * are reported on `lo`, where their traffic goes; reject routes are marked.
 */
export function parseIpv6Routes(text: string): Route[] {
  const routes: Route[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [dest, prefixHex, , , , metricHex, , , flagsHex, iface] = f as string[];
    if (!/^[0-9a-fA-F]{32}$/.test(dest ?? '') || !/^[0-9a-fA-F]{2}$/.test(prefixHex ?? '')) continue;
    const flags = Number.parseInt(flagsHex ?? '', 16);
    const metric = Number.parseInt(metricHex ?? '', 16);
    if (!Number.isFinite(flags) || !Number.isFinite(metric) || iface === undefined) continue;
    if ((flags & RTF_UP) === 0) continue;
    routes.push({
      family: 6,
      iface: (flags & RTF_LOCAL) !== 0 ? 'lo' : iface,
      destination: BigInt(`0x${dest as string}`),
      prefix: Number.parseInt(prefixHex as string, 16),
      metric,
      ...((flags & RTF_REJECT) !== 0 ? { reject: true as const } : {}),
    });
  }
  return routes;
}

/** An IP address as its family and its value in network order, or undefined when `text` is not an address. */
export function parseAddress(text: string): { family: 4 | 6; value: bigint } | undefined {
  const address = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (isIPv4(address)) {
    return { family: 4, value: address.split('.').reduce((n, octet) => (n << 8n) | BigInt(octet), 0n) };
  }
  if (!isIPv6(address)) return undefined;
  const zoneless = address.split('%')[0] as string;
  // An IPv4-mapped address (::ffff:192.0.2.1) is reached over IPv4.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(zoneless);
  if (mapped) return parseAddress(mapped[1] as string);
  const [head, tail] = zoneless.includes('::') ? zoneless.split('::') : [zoneless, undefined];
  const groups = (part: string | undefined): string[] => (part ? part.split(':') : []);
  const expand = (parts: string[]): string[] =>
    parts.flatMap((g) => {
      if (!g.includes('.')) return [g];
      const v4 = parseAddress(g)?.value ?? 0n;
      return [(v4 >> 16n).toString(16), (v4 & 0xffffn).toString(16)];
    });
  const left = expand(groups(head));
  const right = expand(groups(tail));
  const middle = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  const all = [...left, ...middle, ...right];
  return { family: 6, value: all.reduce((n, g) => (n << 16n) | BigInt(`0x${g || '0'}`), 0n) };
}

/**
 * The route the kernel would pick for `address` in these routes: the longest matching prefix, then the lowest
 * metric (the first listed breaks a last tie). A reject route that wins means no route. Loopback addresses go over `lo` (their routes
 * live in the local table, which these files do not show). Undefined = no route (the network is unreachable).
 */
export function routeFor(routes: readonly Route[], address: string): Route | undefined {
  const parsed = parseAddress(address);
  if (!parsed) return undefined;
  const bits = parsed.family === 4 ? 32 : 128;
  if (isLoopback(parsed.family, parsed.value)) {
    return { family: parsed.family, iface: 'lo', destination: parsed.value, prefix: bits, metric: 0 };
  }
  let best: Route | undefined;
  for (const route of routes) {
    if (route.family !== parsed.family || route.prefix > bits) continue;
    const shift = BigInt(bits - route.prefix);
    if (parsed.value >> shift !== route.destination >> shift) continue;
    if (!best || route.prefix > best.prefix || (route.prefix === best.prefix && route.metric < best.metric)) {
      best = route;
    }
  }
  return best?.reject ? undefined : best;
}

function isLoopback(family: 4 | 6, value: bigint): boolean {
  return family === 4 ? value >> 24n === 127n : value === 1n;
}

/** Eight hex digits printed from a 32-bit value in host order, as the number in network order. */
function hostOrder(hex: string, littleEndian: boolean): number {
  const n = Number.parseInt(hex, 16) >>> 0;
  if (!littleEndian) return n;
  return (((n & 0xff) << 24) | ((n & 0xff00) << 8) | ((n >>> 8) & 0xff00) | (n >>> 24)) >>> 0;
}

function popcount32(n: number): number {
  let count = 0;
  for (let v = n >>> 0; v !== 0; v >>>= 1) count += v & 1;
  return count;
}
