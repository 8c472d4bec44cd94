/**
 * Runs inside the container (its loopback is the only network it has):
 *   s3-serve.ts serve <state.json>   s3rver + the multipart shim + a switchable front; writes {endpoint,
 *                                   s3rverPort} to <state.json> when listening. SIGUSR1 makes the front answer
 *                                   every request with 503 ServiceUnavailable (S3 in trouble: the agent retries
 *                                   each file), SIGUSR2 lets traffic pass again.
 *   s3-serve.ts list <state.json>    prints [{key, size, sha256}] of every object in the bucket (asked of s3rver
 *                                   itself, with the real SDK), so a test can check what landed byte for byte.
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { localClientConfig, s3ErrorXml, startLocalS3, startMultipartShim } from '@tvm/test-utils';

export const BUCKET = 't01logs';

interface State {
  endpoint: string;
  s3rverPort: number;
}

const [mode, stateFile] = process.argv.slice(2);
if (!stateFile) throw new Error('usage: s3-serve.ts serve|list <state.json>');

if (mode === 'serve') {
  const s3 = await startLocalS3({ buckets: [BUCKET], directory: '/var/lib/tvm-test-s3' });
  const shim = await startMultipartShim({ port: s3.port, directory: s3.directory });
  let unavailable = false;
  const front = createServer((req, res) => {
    if (unavailable) {
      req.resume();
      res.writeHead(503, { 'content-type': 'application/xml' });
      res.end(s3ErrorXml('ServiceUnavailable', 'Please reduce your request rate.'));
      return;
    }
    const upstream = request(
      { host: '127.0.0.1', port: shim.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  process.on('SIGUSR1', () => (unavailable = true));
  process.on('SIGUSR2', () => (unavailable = false));
  process.on('SIGTERM', () => {
    front.close();
    const exit = () => process.exit(0);
    Promise.all([shim.close(), s3.close()]).then(exit, exit);
  });
  const state: State = {
    endpoint: `http://127.0.0.1:${(front.address() as AddressInfo).port}`,
    s3rverPort: s3.port,
  };
  await writeFile(stateFile, JSON.stringify(state));
  process.stdout.write(`listening: ${JSON.stringify(state)}\n`);
} else if (mode === 'list') {
  const state = JSON.parse(await readFile(stateFile, 'utf8')) as State;
  const client = new S3Client(localClientConfig(`http://127.0.0.1:${state.s3rverPort}`));
  const objects: Array<{ key: string; size: number; sha256: string }> = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, ContinuationToken: token }));
    for (const item of page.Contents ?? []) {
      const body = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: item.Key }));
      const bytes = Buffer.from(await body.Body!.transformToByteArray());
      objects.push({
        key: item.Key ?? '',
        size: bytes.length,
        sha256: createHash('sha256').update(bytes).digest('hex'),
      });
    }
    token = page.NextContinuationToken;
  } while (token);
  client.destroy();
  process.stdout.write(`${JSON.stringify(objects)}\n`);
} else {
  throw new Error(`unknown mode ${mode}`);
}
