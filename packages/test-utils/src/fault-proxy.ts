import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * What the proxy does to traffic:
 * - `pass`: forwards everything;
 * - `delay`: forwards every chunk, in both directions, `ms` late (a slow link);
 * - `stall`: accepts and holds everything, forwarding nothing until the mode changes (a dead link that stays up);
 * - `reset`: forwards `afterBytes` client-to-server bytes (counted from when the mode was set, over all
 *   connections), then resets every connection with a TCP RST (WiFi dropping mid-request);
 * - `refuse`: closes the listener and resets open connections, so connecting fails with ECONNREFUSED.
 */
export type FaultMode =
  | { kind: 'pass' }
  | { kind: 'delay'; ms: number }
  | { kind: 'stall' }
  | { kind: 'reset'; afterBytes: number }
  | { kind: 'refuse' };

/** A fault-injecting TCP proxy on 127.0.0.1, switchable while running. */
export interface FaultProxy {
  /** `http://127.0.0.1:<port>`: point the client's endpoint here. */
  endpoint: string;
  port: number;
  readonly mode: FaultMode;
  /** Switches the mode; connections already open follow the new mode from their next chunk. */
  setMode(mode: FaultMode): Promise<void>;
  /** Client-to-server bytes actually forwarded (request lines, headers and bodies). */
  readonly bytesUpstream: number;
  /** Server-to-client bytes actually forwarded. */
  readonly bytesDownstream: number;
  /** Connections accepted. */
  readonly connections: number;
  /** Sets the counters back to zero. */
  resetCounters(): void;
  close(): Promise<void>;
}

/** Options of {@link startFaultProxy}. */
export interface FaultProxyOptions {
  /** The server behind the proxy, e.g. the local S3 server's port. */
  targetPort: number;
  /** @default '127.0.0.1' */
  targetHost?: string;
  /** @default { kind: 'pass' } */
  mode?: FaultMode;
}

interface Pair {
  client: Socket;
  upstream: Socket;
  held: Array<{ chunk: Buffer; up: boolean }>;
}

/** Starts the proxy on 127.0.0.1 (a free port). Traffic stays on loopback. */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const targetHost = options.targetHost ?? '127.0.0.1';
  let mode: FaultMode = options.mode ?? { kind: 'pass' };
  let bytesUpstream = 0;
  let bytesDownstream = 0;
  let connections = 0;
  let budgetUsed = 0;
  const pairs = new Set<Pair>();

  const destroy = (pair: Pair, reset: boolean): void => {
    pairs.delete(pair);
    if (reset) pair.client.resetAndDestroy();
    else pair.client.destroy();
    pair.upstream.destroy();
  };

  const write = (pair: Pair, chunk: Buffer, up: boolean): void => {
    const target = up ? pair.upstream : pair.client;
    if (target.destroyed) return;
    if (up) bytesUpstream += chunk.length;
    else bytesDownstream += chunk.length;
    if (!target.write(chunk)) {
      const source = up ? pair.client : pair.upstream;
      source.pause();
      target.once('drain', () => {
        if (mode.kind !== 'stall') source.resume();
      });
    }
  };

  const forward = (pair: Pair, chunk: Buffer, up: boolean): void => {
    switch (mode.kind) {
      case 'pass':
        write(pair, chunk, up);
        return;
      case 'delay': {
        const ms = mode.ms;
        setTimeout(() => write(pair, chunk, up), ms);
        return;
      }
      case 'stall':
        pair.held.push({ chunk, up });
        (up ? pair.client : pair.upstream).pause();
        return;
      case 'reset': {
        if (!up) {
          write(pair, chunk, up);
          return;
        }
        const room = mode.afterBytes - budgetUsed;
        if (chunk.length <= room) {
          budgetUsed += chunk.length;
          write(pair, chunk, up);
          return;
        }
        if (room > 0) {
          budgetUsed += room;
          write(pair, chunk.subarray(0, room), up);
        }
        for (const open of [...pairs]) destroy(open, true);
        destroy(pair, true);
        return;
      }
      case 'refuse':
        destroy(pair, true);
        return;
    }
  };

  const accept = (client: Socket): void => {
    connections++;
    if (mode.kind === 'refuse' || (mode.kind === 'reset' && budgetUsed >= mode.afterBytes)) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(options.targetPort, targetHost);
    const pair: Pair = { client, upstream, held: [] };
    pairs.add(pair);
    client.on('data', (chunk: Buffer) => forward(pair, chunk, true));
    upstream.on('data', (chunk: Buffer) => forward(pair, chunk, false));
    const end = (): void => {
      if (pairs.has(pair)) destroy(pair, false);
    };
    client.on('error', end);
    upstream.on('error', () => {
      if (pairs.has(pair)) destroy(pair, true);
    });
    client.on('close', end);
    upstream.on('close', end);
  };

  let server: Server = createServer(accept);
  await listen(server, 0);
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    get mode() {
      return mode;
    },
    async setMode(next) {
      const previous = mode;
      mode = next;
      if (next.kind === 'reset') budgetUsed = 0;
      if (next.kind === 'refuse' && previous.kind !== 'refuse') {
        for (const pair of [...pairs]) destroy(pair, true);
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
      if (next.kind !== 'refuse' && previous.kind === 'refuse') {
        server = createServer(accept);
        await listen(server, port);
      }
      if (next.kind !== 'stall' && previous.kind === 'stall') {
        for (const pair of pairs) {
          const held = pair.held.splice(0);
          for (const { chunk, up } of held) forward(pair, chunk, up);
          pair.client.resume();
          pair.upstream.resume();
        }
      }
    },
    get bytesUpstream() {
      return bytesUpstream;
    },
    get bytesDownstream() {
      return bytesDownstream;
    },
    get connections() {
      return connections;
    },
    resetCounters() {
      bytesUpstream = 0;
      bytesDownstream = 0;
      connections = 0;
    },
    async close() {
      for (const pair of [...pairs]) destroy(pair, false);
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}
