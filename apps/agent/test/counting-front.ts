import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { useStarted } from './helpers.js';

/** One S3 request as the counting front saw it. */
export interface Seen {
  op: 'CreateMultipartUpload' | 'UploadPart' | 'CompleteMultipartUpload' | 'PutObject' | 'other';
  /** The path: `/<bucket>/<key>`. */
  key: string;
  /** UploadPart: its part number and upload id. */
  partNumber?: number;
  uploadId?: string;
  /** Request body bytes that reached the front so far. */
  bodyBytes: number;
  /** When the request's head arrived and when the answer ended (Date.now()). */
  start: number;
  end?: number;
  status?: number;
}

/** A counting front: where it listens, and every request it passed on. */
export interface CountingFront {
  readonly endpoint: string;
  readonly port: number;
  readonly seen: Seen[];
  close(): Promise<void>;
}

/**
 * An HTTP proxy in front of the local S3 (s3rver behind its multipart shim) on `host` that records every request:
 * what S3 itself would count.
 */
export async function startCountingFront(upstreamPort: number, host = '127.0.0.1'): Promise<CountingFront> {
  const seen: Seen[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const q = url.searchParams;
    const op: Seen['op'] =
      req.method === 'POST' && q.has('uploads')
        ? 'CreateMultipartUpload'
        : req.method === 'PUT' && q.has('partNumber')
          ? 'UploadPart'
          : req.method === 'POST' && q.has('uploadId')
            ? 'CompleteMultipartUpload'
            : req.method === 'PUT' && !req.headers['x-amz-copy-source']
              ? 'PutObject'
              : 'other';
    const record: Seen = { op, key: decodeURIComponent(url.pathname), bodyBytes: 0, start: Date.now() };
    if (op === 'UploadPart') {
      record.partNumber = Number(q.get('partNumber'));
      record.uploadId = q.get('uploadId') ?? '';
    }
    seen.push(record);
    req.on('data', (chunk: Buffer) => {
      record.bodyBytes += chunk.length;
    });
    const upstream = httpRequest(
      { host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        record.status = answer.statusCode ?? 502;
        res.writeHead(record.status, answer.headers);
        answer.pipe(res);
        answer.on('end', () => {
          record.end = Date.now();
        });
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://${host}:${port}`,
    port,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** {@link startCountingFront} on 127.0.0.1 for the tests of this file (started in beforeAll). */
export function useCountingFront(s3: { readonly port: number }): {
  readonly endpoint: string;
  readonly seen: Seen[];
} {
  const started = useStarted('useCountingFront: the front', () => startCountingFront(s3.port));
  return {
    get endpoint() {
      return started().endpoint;
    },
    get seen() {
      return started().seen;
    },
  };
}
