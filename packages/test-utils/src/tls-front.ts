import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type TLSSocket } from 'node:tls';

/** A private CA and a server certificate it signed for 127.0.0.1 and localhost, all PEM. */
export interface TestCertificates {
  /** The CA certificate: what a client must be given (`AWS_CA_BUNDLE`) to trust the server. */
  caPem: string;
  /** The server's certificate, signed by the CA. */
  certPem: string;
  keyPem: string;
}

/**
 * Generates a throw-away CA and a server certificate with the `openssl` command (node:crypto cannot make
 * certificates). Takes ~100 ms; the keys live only in memory and a temp directory removed at once.
 */
export function generateTestCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'tvm-tls-'));
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  try {
    run([
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '2',
      '-subj',
      '/CN=tvm-test-ca',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign',
    ]);
    run([
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'server.key',
      '-out',
      'server.csr',
      '-subj',
      '/CN=127.0.0.1',
    ]);
    writeFileSync(
      join(dir, 'ext.cnf'),
      'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n',
    );
    run([
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.pem',
      '-days',
      '2',
      '-extfile',
      'ext.cnf',
    ]);
    return {
      caPem: readFileSync(join(dir, 'ca.pem'), 'utf8'),
      certPem: readFileSync(join(dir, 'server.pem'), 'utf8'),
      keyPem: readFileSync(join(dir, 'server.key'), 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A TLS server on 127.0.0.1 that forwards each connection's plaintext to a TCP target (e.g. the local S3). */
export interface TlsFront {
  /** `https://127.0.0.1:<port>`. */
  endpoint: string;
  port: number;
  /** The CA certificate (PEM) a client must trust to accept the front. */
  ca: Buffer;
  close(): Promise<void>;
}

/** Starts a TLS front with `certificates` before `target` (`http://127.0.0.1:<port>`). */
export async function startTlsFront(target: string, certificates: TestCertificates): Promise<TlsFront> {
  const { hostname, port: targetPort } = new URL(target);
  const sockets = new Set<Socket>();
  const server = createServer(
    { cert: certificates.certPem, key: certificates.keyPem },
    (client: TLSSocket) => {
      const upstream = connect(Number(targetPort), hostname);
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    },
  );
  // A client that rejects our certificate aborts the handshake: that is the test, not a server failure.
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `https://127.0.0.1:${port}`,
    port,
    ca: Buffer.from(certificates.caPem),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
