import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One scripted answer. */
export interface ScriptedResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

/** A loopback HTTP server that answers every request from a script: for errors no real server gives on demand. */
export interface HttpResponder {
  endpoint: string;
  port: number;
  /** Requests received so far (method and URL). */
  readonly requests: ReadonlyArray<{ method: string; url: string }>;
  close(): Promise<void>;
}

/** S3's error document, as a real S3 endpoint sends it. */
export function s3ErrorXml(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>TESTREQUEST</RequestId><HostId>test-host</HostId></Error>`;
}

/**
 * Starts a server on 127.0.0.1 that answers each request with `respond(request)`. The request body is read fully
 * before answering, as S3 does, so clients never see a reset instead of the scripted answer.
 */
export async function startHttpResponder(
  respond: (request: IncomingMessage) => ScriptedResponse,
): Promise<HttpResponder> {
  const requests: Array<{ method: string; url: string }> = [];
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    requests.push({ method: request.method ?? '', url: request.url ?? '' });
    request.resume();
    request.on('end', () => {
      const answer = respond(request);
      const body = request.method === 'HEAD' ? '' : (answer.body ?? '');
      response.writeHead(answer.status, {
        'content-type': 'application/xml',
        'content-length': String(Buffer.byteLength(answer.body ?? '')),
        ...answer.headers,
      });
      response.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
