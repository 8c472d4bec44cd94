import { isIP } from 'node:net';

/** Where the monitoring endpoint listens. */
export interface ListenAddress {
  /** As written: `127.0.0.1`, `localhost`, `::1`, `0.0.0.0`, `192.168.1.5` ... (no brackets). */
  host: string;
  port: number;
  /** True for 127.0.0.0/8, `::1` and `localhost`: reachable from this machine only. */
  loopback: boolean;
}

/** The address `monitoring.http.listen` takes when only `monitoring.http` is given. */
export const DEFAULT_LISTEN = '127.0.0.1:9464';

/**
 * Parses `monitoring.http.listen`: `host:port`, an IPv6 host in brackets (`[::1]:9464`). The host is never
 * implied: a bare `9464` or `:9464` would listen on every interface of the vehicle, so a non-loopback address must be
 * spelled out (`0.0.0.0:9464`, `192.168.10.2:9464`). Returns the problem as a sentence when the value is not valid.
 */
export function parseListen(value: string): ListenAddress | { problem: string } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d+)$/.exec(value.trim());
  if (!match) {
    return {
      problem: `must be host:port such as 127.0.0.1:9464 (a non-loopback address must be spelled out, e.g. 0.0.0.0:9464), got ${JSON.stringify(value)}`,
    };
  }
  const host = match[1] ?? match[2] ?? '';
  const port = Number(match[3]);
  if (host.length === 0) {
    return {
      problem: `must name the host: write 127.0.0.1${value.trim()} for this machine only, or spell out the address to expose (e.g. 0.0.0.0${value.trim()}), got ${JSON.stringify(value)}`,
    };
  }
  if (match[1] !== undefined && isIP(host) !== 6) {
    return { problem: `must have an IPv6 address inside [ ], got ${JSON.stringify(value)}` };
  }
  if (match[1] === undefined && host.includes(':')) {
    return { problem: `must write an IPv6 address in brackets ([::1]:9464), got ${JSON.stringify(value)}` };
  }
  if (
    isIP(host) === 0 &&
    !/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(host)
  ) {
    return { problem: `must name a host or an IP address, got ${JSON.stringify(host)}` };
  }
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    return { problem: `must have a port from 1 to 65535, got ${match[3]}` };
  }
  return { host, port, loopback: isLoopbackHost(host) };
}

/** 127.0.0.0/8, `::1` and `localhost`. */
export function isLoopbackHost(host: string): boolean {
  const lower = host.toLowerCase();
  return (
    lower === 'localhost' ||
    lower === '::1' ||
    (isIP(lower) === 4 && lower.startsWith('127.')) ||
    /^::ffff:127\./.test(lower)
  );
}

/** `127.0.0.1:9464`, `[::1]:9464`: the address as a URL authority. */
export function formatListen(address: Pick<ListenAddress, 'host' | 'port'>): string {
  return `${isIP(address.host) === 6 ? `[${address.host}]` : address.host}:${address.port}`;
}
