import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { createServer } from 'node:tls';

/** An HTTPS front on loopback: TLS terminated, then bytes passed to a plain server on 127.0.0.1. */
export interface TlsFront {
  /** `https://127.0.0.1:<port>` */
  endpoint: string;
  port: number;
  /** The self-signed certificate (PEM) clients must be told to trust. */
  ca: Buffer;
  /** Its path (for `--ca-bundle`, `NODE_EXTRA_CA_CERTS`, ...). */
  caFile: string;
  close(): Promise<void>;
}

/**
 * Starts a TLS-terminating proxy on 127.0.0.1 in front of `targetPort`, with a self-signed certificate for
 * IP 127.0.0.1 made by `openssl` in `directory`.
 */
export async function startTlsFront(options: { targetPort: number; directory: string }): Promise<TlsFront> {
  const keyFile = join(options.directory, 'tls-front.key');
  const caFile = join(options.directory, 'tls-front.crt');
  // prettier-ignore
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyFile, '-out', caFile,
  ], { stdio: 'ignore' });
  const ca = await readFile(caFile);
  const server = createServer({ key: await readFile(keyFile), cert: ca }, (socket) => {
    const upstream = connect(options.targetPort, '127.0.0.1');
    socket.pipe(upstream).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    endpoint: `https://127.0.0.1:${port}`,
    port,
    ca,
    caFile,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
