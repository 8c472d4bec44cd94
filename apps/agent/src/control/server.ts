import { chmod, lstat, unlink } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/** What a route's handler receives: the JSON body (undefined for none), `:name` path parameters and the query. */
export interface ControlRequest {
  body: unknown;
  params: Readonly<Record<string, string>>;
  query: URLSearchParams;
}

/** A route's answer: a JSON body, and a status (default 200). */
export interface ControlResponse {
  status?: number;
  body: unknown;
}

export type ControlHandler = (request: ControlRequest) => ControlResponse | Promise<ControlResponse>;

/** A request the handler refuses: answered with `status` and `{ error: message }`. */
export class ControlRequestError extends Error {
  override readonly name = 'ControlRequestError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface Route {
  method: string;
  segments: readonly string[];
  handler: ControlHandler;
}

// A body bigger than this is no command: refuse it before buffering it.
const MAX_BODY_BYTES = 1024 * 1024;

/**
 * The daemon's control channel: JSON over HTTP on a unix socket in the state directory, for the commands that
 * change the running daemon (`tvm-upload bandwidth`, `tvm-upload upload`). A unix socket, not a TCP port: only
 * users who may open the state directory can reach it (the socket is mode 0660), and nothing listens on a network.
 */
export class ControlServer {
  readonly #routes: Route[] = [];
  #server: Server | undefined;
  #path: string | undefined;

  /** Adds a route; `path` segments starting with `:` are parameters (`/v1/uploads/:id`). */
  route(method: string, path: string, handler: ControlHandler): this {
    this.#routes.push({ method: method.toUpperCase(), segments: splitPath(path), handler });
    return this;
  }

  /**
   * Listens on `socketPath`. A socket left by a daemon that died (SIGKILL, power cut) is removed; a socket a live
   * process answers on is not taken over.
   * @throws when another process answers on the socket, or the path cannot be bound.
   */
  async listen(socketPath: string): Promise<void> {
    if (await answers(socketPath)) {
      throw new Error(`Another process answers on the control socket ${socketPath}`);
    }
    const existing = await lstat(socketPath).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (existing && !existing.isSocket()) {
      throw new Error(`${socketPath} exists and is not a socket; refusing to replace it`);
    }
    if (existing) await unlink(socketPath);
    const server = createServer((req, res) => {
      // #serve answers every error itself; what is left (the socket went away mid-answer) ends the connection.
      this.#serve(req, res).catch(() => res.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.unref();
    this.#server = server;
    this.#path = socketPath;
    await chmod(socketPath, 0o660);
  }

  /** Stops listening and removes the socket. */
  async close(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (this.#path !== undefined) await unlink(this.#path).catch(() => undefined);
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let answer: ControlResponse;
    try {
      const url = new URL(req.url ?? '/', 'http://control');
      const match = this.#match(req.method ?? 'GET', url.pathname);
      if (!match) throw new ControlRequestError(404, `No route ${req.method} ${url.pathname}`);
      const body = await readJson(req);
      answer = await match.route.handler({ body, params: match.params, query: url.searchParams });
    } catch (error) {
      answer =
        error instanceof ControlRequestError
          ? { status: error.status, body: { error: error.message } }
          : { status: 500, body: { error: (error as Error).message } };
    }
    const text = `${JSON.stringify(answer.body ?? null)}\n`;
    res.writeHead(answer.status ?? 200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  }

  #match(method: string, pathname: string): { route: Route; params: Record<string, string> } | undefined {
    const segments = splitPath(pathname);
    for (const route of this.#routes) {
      if (route.method !== method || route.segments.length !== segments.length) continue;
      const params: Record<string, string> = {};
      const matches = route.segments.every((segment, i) => {
        const actual = segments[i] as string;
        if (segment.startsWith(':')) {
          params[segment.slice(1)] = decodeURIComponent(actual);
          return true;
        }
        return segment === actual;
      });
      if (matches) return { route, params };
    }
    return undefined;
  }
}

function splitPath(path: string): string[] {
  return path.split('/').filter((segment) => segment.length > 0);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new ControlRequestError(413, 'Request body too large');
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new ControlRequestError(400, 'Request body is not JSON');
  }
}

/** Whether a process accepts connections on the unix socket `path`. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
