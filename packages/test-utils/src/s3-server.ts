import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
// s3rver ships no types; its constructor and run/close are all we use.
// @ts-expect-error -- untyped CommonJS module
import S3rverModule from 's3rver';

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
const S3rver = S3rverModule as new (options: Record<string, unknown>) => S3rverInstance;

/** s3rver accepts only this access key id (and does not check signatures). */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/** A running local S3-compatible server. */
export interface LocalS3 {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  port: number;
  /** The bucket created at start. */
  bucket: string;
  /** Where s3rver keeps its objects. */
  directory: string;
  /** A real SDK client pointed at this server (path style, byte-exact checksum settings). */
  client(overrides?: Partial<S3ClientConfig>): S3Client;
  close(): Promise<void>;
}

/** Options of {@link startLocalS3}. */
export interface LocalS3Options {
  /** Buckets to create. @default ['test-bucket'] */
  buckets?: string[];
  /** Port to listen on. @default 0 (any free port) */
  port?: number;
  /** Storage directory. @default a new temp directory, removed on close */
  directory?: string;
}

/** Starts s3rver on 127.0.0.1. Traffic stays on loopback. */
export async function startLocalS3(options: LocalS3Options = {}): Promise<LocalS3> {
  const buckets = options.buckets ?? ['test-bucket'];
  const ownsDirectory = options.directory === undefined;
  const directory = options.directory ?? (await mkdtemp(join(tmpdir(), 's3rver-')));
  const server = new S3rver({
    address: '127.0.0.1',
    port: options.port ?? 0,
    directory,
    silent: true,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  const address = await server.run();
  const endpoint = `http://127.0.0.1:${address.port}`;
  const clients: S3Client[] = [];
  return {
    endpoint,
    port: address.port,
    bucket: buckets[0] ?? '',
    directory,
    client(overrides = {}) {
      const client = new S3Client(localClientConfig(endpoint, overrides));
      clients.push(client);
      return client;
    },
    async close() {
      for (const client of clients) client.destroy();
      await server.close();
      if (ownsDirectory) await rm(directory, { recursive: true, force: true });
    },
  };
}

/** SDK settings for a loopback S3-compatible server: path style, fixed credentials, checksums only when required. */
export function localClientConfig(endpoint: string, overrides: Partial<S3ClientConfig> = {}): S3ClientConfig {
  return {
    endpoint,
    region: 'cn-north-1',
    forcePathStyle: true,
    credentials: S3RVER_CREDENTIALS,
    // s3rver stores aws-chunked framing inside objects under the SDK's default checksum mode (toolchain.md).
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 1,
    ...overrides,
  };
}
