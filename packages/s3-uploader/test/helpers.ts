import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  startFaultProxy,
  startLocalS3,
  startMultipartShim,
  type FaultProxy,
  type LocalS3,
  type MultipartShim,
} from '@tvm/test-utils';
import { afterAll, beforeAll } from 'vitest';

/** A temp directory removed by `cleanup()`. */
export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 's3-uploader-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Writes `size` random bytes to `dir/name` and returns the path and the bytes. */
export async function randomFile(
  dir: string,
  name: string,
  size: number,
): Promise<{ path: string; data: Buffer }> {
  const data = randomBytes(size);
  const path = join(dir, name);
  await writeFile(path, data);
  return { path, data };
}

/** The object's bytes, read back through the SDK. */
export async function readObject(client: S3Client, bucket: string, key: string): Promise<Buffer> {
  const result = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(
    await (result.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
  );
}

export const MiB = 1024 * 1024;

/** A temp directory for the test file, created before its tests and removed after them. */
export function useTempDir(): { readonly dir: string } {
  let current: { dir: string; cleanup: () => Promise<void> } | undefined;
  beforeAll(async () => {
    current = await tempDir();
  });
  afterAll(() => current?.cleanup());
  return {
    get dir() {
      if (!current) throw new Error('the temp directory exists only while tests run');
      return current.dir;
    },
  };
}

/** The servers of one test file; `shim` and `proxy` exist only when asked for. */
export interface Servers {
  readonly s3: LocalS3;
  readonly shim: MultipartShim;
  /** In front of the shim when there is one, else in front of s3rver. */
  readonly proxy: FaultProxy;
  readonly dir: string;
}

/**
 * Starts s3rver for the test file's tests (and the multipart shim and a fault proxy in front, when asked), with a
 * temp directory; stops them afterwards.
 */
export function useServers(options: { shim?: boolean; proxy?: boolean } = {}): Servers {
  const temp = useTempDir();
  let s3: LocalS3 | undefined;
  let shim: MultipartShim | undefined;
  let proxy: FaultProxy | undefined;
  beforeAll(async () => {
    s3 = await startLocalS3();
    if (options.shim) shim = await startMultipartShim({ port: s3.port, directory: s3.directory });
    if (options.proxy) proxy = await startFaultProxy({ targetPort: shim?.port ?? s3.port });
  });
  afterAll(async () => {
    await proxy?.close();
    await shim?.close();
    await s3?.close();
  });
  const started = <T>(value: T | undefined, name: string): T => {
    if (value === undefined) throw new Error(`${name} was not started for this test file`);
    return value;
  };
  return {
    get s3() {
      return started(s3, 's3rver');
    },
    get shim() {
      return started(shim, 'the multipart shim');
    },
    get proxy() {
      return started(proxy, 'the fault proxy');
    },
    get dir() {
      return temp.dir;
    },
  };
}
