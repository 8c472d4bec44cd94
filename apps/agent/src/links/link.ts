import { readFileSync } from 'node:fs';
import { lookup } from 'node:dns/promises';
import { endianness } from 'node:os';
import { inBackground } from '../background.js';
import type { Clock } from '../clock.js';
import type { AgentLogger } from '../logger.js';
import { classifyInterface, type LinkClass, type NetworkLists } from './classify.js';
import { parseIpv4Routes, parseIpv6Routes, routeFor } from './routes.js';

/** The kernel's routing tables as text (`/proc/net/route`, `/proc/net/ipv6_route`; a missing file is empty). */
export interface RouteTables {
  ipv4: string;
  ipv6: string;
}

/** Reads the routing tables of this process's network namespace. */
export function readProcRouteTables(): RouteTables {
  const read = (path: string): string => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return '';
    }
  };
  return { ipv4: read('/proc/net/route'), ipv6: read('/proc/net/ipv6_route') };
}

/** The link uploads take now. */
export interface LinkState {
  /** The interface of the route to the endpoint; undefined = no route. */
  iface: string | undefined;
  class: LinkClass;
  /** The endpoint address the route was looked up for (undefined while a name is not resolved yet). */
  address: string | undefined;
}

/** Options of {@link LinkWatch}. */
export interface LinkWatchOptions {
  /** The S3 host: an IP address (no lookup) or a name. */
  host: { host: string; literal: boolean };
  lists: NetworkLists;
  clock: Clock;
  logger: AgentLogger;
  /** @default readProcRouteTables */
  readTables?: () => RouteTables;
  /** Resolves a host name to its addresses, in the order a connection tries them. @default dns.lookup (all) */
  resolve?: (host: string) => Promise<string[]>;
  /** How long a route reading is reused by the checks before uploads. @default 1000 */
  maxAgeMs?: number;
  /** How long a resolved name is reused. @default 300000 */
  resolveEveryMs?: number;
  /**
   * How long `refresh()` waits for a due lookup of the name before it reads the route for the address known so far
   * (the lookup goes on in the background). @default 2000
   */
  resolveWaitMs?: number;
}

const systemResolve = async (host: string): Promise<string[]> =>
  (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/**
 * The link to the S3 endpoint: which interface carries the route to it in the kernel's routing table, and that
 * interface's class. Reading the tables is a local file read (no network), done at most once per `maxAgeMs`. A host
 * name is resolved with the system resolver, as the SDK's connection does (getaddrinfo: /etc/hosts, then DNS), in
 * the background every `resolveEveryMs`; the first address is the one a connection tries first. Until a name
 * resolves (or when it cannot), the route to 0.0.0.0, i.e. the default route, stands in for it.
 */
export class LinkWatch {
  readonly #o: LinkWatchOptions;
  readonly #read: () => RouteTables;
  readonly #littleEndian = endianness() === 'LE';
  #address: string | undefined;
  #resolvedAt = -Infinity;
  #resolving: Promise<void> | undefined;
  #state: LinkState | undefined;
  #readAt = -Infinity;

  constructor(options: LinkWatchOptions) {
    this.#o = options;
    this.#read = options.readTables ?? readProcRouteTables;
    if (options.host.literal) this.#address = options.host.host;
  }

  /** The link now (re-read when the last reading is older than `maxAgeMs`). */
  current(): LinkState {
    const now = this.#o.clock.now();
    if (!this.#state || now - this.#readAt >= (this.#o.maxAgeMs ?? 1000)) this.#state = this.#evaluate(now);
    return this.#state;
  }

  /**
   * Re-reads the tables now (and the name, when due); returns the link. A lookup is waited for at most
   * `resolveWaitMs`: getaddrinfo asking a DNS server that only the old link reached can take minutes, and the route
   * check (at start, every 10 s) must not wait with it.
   */
  async refresh(): Promise<LinkState> {
    const timer = new AbortController();
    const waited = this.#o.clock.sleep(this.#o.resolveWaitMs ?? 2000, timer.signal).catch(() => undefined);
    try {
      await Promise.race([this.#resolveIfDue(), waited]);
    } finally {
      timer.abort();
    }
    this.#state = this.#evaluate(this.#o.clock.now());
    return this.#state;
  }

  #evaluate(now: number): LinkState {
    this.#readAt = now;
    if (!this.#o.host.literal) inBackground(this.#resolveIfDue(), this.#o.logger, 'Resolving the S3 host');
    const tables = this.#read();
    const routes = [...parseIpv4Routes(tables.ipv4, this.#littleEndian), ...parseIpv6Routes(tables.ipv6)];
    const route = routeFor(routes, this.#address ?? '0.0.0.0');
    return {
      iface: route?.iface,
      class: classifyInterface(route?.iface, this.#o.lists),
      address: this.#address,
    };
  }

  #resolveIfDue(): Promise<void> {
    if (this.#o.host.literal) return Promise.resolve();
    if (this.#resolving) return this.#resolving;
    if (this.#o.clock.now() - this.#resolvedAt < (this.#o.resolveEveryMs ?? 300_000))
      return Promise.resolve();
    this.#resolving = (async () => {
      try {
        const addresses = await (this.#o.resolve ?? systemResolve)(this.#o.host.host);
        if (addresses[0] !== undefined) this.#address = addresses[0];
      } catch (error) {
        this.#o.logger.debug(
          `Resolving ${this.#o.host.host} for its route failed (${(error as Error).message}); the default route stands in`,
        );
      } finally {
        this.#resolvedAt = this.#o.clock.now();
        this.#resolving = undefined;
      }
    })();
    return this.#resolving;
  }
}
