import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { formatListen, type ListenAddress } from './listen.js';

/** What the endpoint answers with; both are called per request, so they read the agent as it is then. */
export interface MonitoringHandlers {
  /** The text exposition for `GET /metrics`. */
  metrics(): string;
  /** The health verdict for `GET /healthz`: healthy, or the one-line reason. */
  health(): { healthy: boolean; reason: string };
}

/** A running monitoring endpoint. */
export interface MonitoringServer {
  /** `127.0.0.1:9464` as bound (the real port when 0 was asked for). */
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Prometheus' text format, version 0.0.4. */
const EXPOSITION_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * Answers one request. `GET` or `HEAD` of `/metrics` (the exposition) and `/healthz` (200 `ok`, or 503 and the
 * reason on one line); 404 for other paths, 405 for other methods. Nothing else is served: this listener is for
 * scrapers and probes, and the daemon's control commands use their own unix socket.
 */
export function answer(
  method: string | undefined,
  url: string | undefined,
  handlers: MonitoringHandlers,
): { status: number; type: string; body: string; allow?: string } {
  const path = (url ?? '/').split('?')[0];
  if (path !== '/metrics' && path !== '/healthz') {
    return { status: 404, type: 'text/plain; charset=utf-8', body: 'not found: try /metrics or /healthz\n' };
  }
  if (method !== 'GET' && method !== 'HEAD') {
    return {
      status: 405,
      type: 'text/plain; charset=utf-8',
      body: 'method not allowed\n',
      allow: 'GET, HEAD',
    };
  }
  if (path === '/metrics') return { status: 200, type: EXPOSITION_TYPE, body: handlers.metrics() };
  const verdict = handlers.health();
  return verdict.healthy
    ? { status: 200, type: 'text/plain; charset=utf-8', body: 'ok\n' }
    : { status: 503, type: 'text/plain; charset=utf-8', body: `${verdict.reason.replace(/\s+/g, ' ')}\n` };
}

/**
 * Starts the endpoint on `listen` (TCP). Idle keep-alive connections are closed by `close()`, so a stop is not held
 * by a scraper. The server is unref'd: it never keeps the process alive by itself.
 * @throws the listen error (EADDRINUSE, EADDRNOTAVAIL, EACCES), with the address in its message
 */
export async function startMonitoringServer(
  listen: Pick<ListenAddress, 'host' | 'port'>,
  handlers: MonitoringHandlers,
): Promise<MonitoringServer> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    let reply: ReturnType<typeof answer>;
    try {
      reply = answer(request.method, request.url, handlers);
    } catch (error) {
      reply = {
        status: 500,
        type: 'text/plain; charset=utf-8',
        body: `internal error: ${(error as Error).message}\n`,
      };
    }
    const headers: Record<string, string | number> = {
      'content-type': reply.type,
      'content-length': Buffer.byteLength(reply.body),
      'cache-control': 'no-store',
    };
    if (reply.allow !== undefined) headers['allow'] = reply.allow;
    response.writeHead(reply.status, headers);
    response.end(request.method === 'HEAD' ? undefined : reply.body);
  });
  // A scraper that opens a connection and sends nothing must not hold a socket for ever.
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => {
      reject(
        new Error(`Cannot listen on ${formatListen(listen)} (monitoring.http.listen): ${error.message}`, {
          cause: error,
        }),
      );
    };
    server.once('error', onError);
    server.listen({ host: listen.host, port: listen.port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.unref();
  const port = (server.address() as AddressInfo).port;
  return {
    address: formatListen({ host: listen.host, port }),
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}
