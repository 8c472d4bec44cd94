import { request } from 'node:http';

/** The daemon's answer to a control request. */
export interface ControlAnswer {
  status: number;
  body: unknown;
}

/** No daemon answers on the control socket: it is not running, or runs with another state directory. */
export class ControlUnavailableError extends Error {
  override readonly name = 'ControlUnavailableError';
}

/**
 * Sends one request to the running daemon's control socket and resolves to its answer (any status: the caller
 * decides what a 4xx means).
 * @throws ControlUnavailableError when no daemon listens on `socketPath`, or it does not answer within `timeoutMs`.
 */
export function controlRequest(
  socketPath: string,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 10_000,
): Promise<ControlAnswer> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath,
        method,
        path,
        headers:
          payload === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = text.length === 0 ? undefined : (JSON.parse(text) as unknown);
          } catch {
            parsed = text;
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('timeout', () => {
      req.destroy(
        new ControlUnavailableError(`The agent did not answer on ${socketPath} within ${timeoutMs / 1000}s`),
      );
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error instanceof ControlUnavailableError) reject(error);
      else if (error.code === 'ENOENT' || error.code === 'ECONNREFUSED') {
        reject(
          new ControlUnavailableError(
            `The agent is not running (nothing answers on its control socket ${socketPath})`,
          ),
        );
      } else reject(error);
    });
    req.end(payload);
  });
}
