/**
 * Runs inside the container (its loopback is the only network it has):
 *   s3-serve.ts serve <state.json>   s3rver + the multipart shim + a switchable fault proxy in front; writes
 *                                   {endpoint, s3rverPort} to <state.json> when listening. SIGUSR1 makes the
 *                                   proxy refuse connections (an outage), SIGUSR2 lets traffic pass again.
 *   s3-serve.ts list <state.json>    prints [{key, size, sha256}] of every object in the bucket (asked of s3rver
 *                                   itself, with the real SDK), so a test can check what landed byte for byte.
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { localClientConfig, startFaultProxy, startLocalS3, startMultipartShim } from '@tvm/test-utils';

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
  const proxy = await startFaultProxy({ targetPort: shim.port });
  process.on('SIGUSR1', () => void proxy.setMode({ kind: 'refuse' }));
  process.on('SIGUSR2', () => void proxy.setMode({ kind: 'pass' }));
  process.on('SIGTERM', () => {
    void Promise.all([proxy.close(), shim.close(), s3.close()]).finally(() => process.exit(0));
  });
  const state: State = { endpoint: proxy.endpoint, s3rverPort: s3.port };
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
