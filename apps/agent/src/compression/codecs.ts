import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { createGunzip, createGzip, gzip } from 'node:zlib';
import type * as ZstdModule from '@bokuweb/zstd-wasm';
import type { CompressionAlgorithm } from './decision.js';

type Zstd = typeof ZstdModule;

/** `gzip -1`: a quarter of level 6's CPU for most of its ratio on text logs (the vehicle's CPU is scarce too). */
export const GZIP_LEVEL = 1;
/** zstd's default level (`zstd` on the command line). */
export const ZSTD_LEVEL = 3;
/**
 * zstd input is cut into frames of this many bytes, each compressed on its own (the WASM build has no streaming
 * API): the frames, concatenated, are one valid zstd stream (`zstd -d`, `unzstd` and every library read it). 1 MiB
 * keeps each synchronous call short (milliseconds) so uploads in flight are not held up, and is zstd level 3's window.
 */
export const ZSTD_FRAME_BYTES = 1024 * 1024;

const gzipAsync = promisify(gzip);

let zstdReady: Promise<Zstd> | undefined;
/**
 * Loads the zstd package and its WebAssembly module once, when zstd is first used (about 250 KB, from the
 * package's directory or beside the bundle): an agent that never compresses with zstd never loads it.
 */
function zstdInit(): Promise<Zstd> {
  zstdReady ??= import('@bokuweb/zstd-wasm')
    .then(async (zstd) => {
      await zstd.init();
      return zstd;
    })
    .catch((error: unknown) => {
      zstdReady = undefined;
      throw error;
    });
  return zstdReady;
}

/** The length of `data` compressed with `algorithm` (the sample that tells whether compressing pays). */
export async function compressedLength(algorithm: CompressionAlgorithm, data: Uint8Array): Promise<number> {
  if (algorithm === 'gzip') return (await gzipAsync(data, { level: GZIP_LEVEL })).length;
  const zstd = await zstdInit();
  return zstd.compress(data, ZSTD_LEVEL).length;
}

/**
 * One file's compression: `stage` turns the original's bytes into the compressed stream (a `stream.pipeline` stage),
 * and every compressed chunk that leaves it is passed to `check`; `decodedSha256` then resolves to the SHA-256 of
 * those chunks decompressed again, which must be the original's. Deterministic: the same input gives the same bytes
 * (gzip through zlib's stream with a zero header time; zstd in fixed frames).
 */
export interface Encoder {
  readonly stage: NodeJS.ReadWriteStream | ((source: AsyncIterable<Buffer>) => AsyncGenerator<Buffer>);
  check(compressed: Buffer): Promise<void>;
  decodedSha256(): Promise<string>;
}

/** An {@link Encoder} for `algorithm`. */
export async function createEncoder(algorithm: CompressionAlgorithm): Promise<Encoder> {
  return algorithm === 'gzip' ? gzipEncoder() : await zstdEncoder();
}

function gzipEncoder(): Encoder {
  // The compressed bytes are decompressed as they are produced: a second, independent pass over the output.
  const gunzip = createGunzip();
  const decoded = createHash('sha256');
  let failure: Error | undefined;
  gunzip.on('data', (chunk: Buffer) => decoded.update(chunk));
  gunzip.on('error', (error) => {
    failure ??= error;
  });
  const ended = once(gunzip, 'end');
  ended.catch(() => undefined);
  return {
    stage: createGzip({ level: GZIP_LEVEL }),
    async check(compressed) {
      if (failure) throw failure;
      if (!gunzip.write(compressed)) await once(gunzip, 'drain');
    },
    async decodedSha256() {
      if (failure) throw failure;
      gunzip.end();
      await ended;
      return decoded.digest('hex');
    },
  };
}

async function zstdEncoder(): Promise<Encoder> {
  const zstd = await zstdInit();
  const decoded = createHash('sha256');
  const frame = (data: Buffer): Buffer => {
    const compressed = Buffer.from(zstd.compress(data, ZSTD_LEVEL));
    // Each frame is decompressed at once, while its input is at hand.
    decoded.update(zstd.decompress(compressed));
    return compressed;
  };
  return {
    async *stage(source) {
      // Fixed frame boundaries whatever the chunks that arrive: the same file always gives the same bytes.
      let pending: Buffer[] = [];
      let length = 0;
      for await (const chunk of source) {
        let rest = chunk;
        while (length + rest.length >= ZSTD_FRAME_BYTES) {
          const take = ZSTD_FRAME_BYTES - length;
          pending.push(rest.subarray(0, take));
          rest = rest.subarray(take);
          yield frame(Buffer.concat(pending));
          pending = [];
          length = 0;
        }
        if (rest.length > 0) {
          pending.push(rest);
          length += rest.length;
        }
      }
      if (length > 0) yield frame(Buffer.concat(pending));
    },
    check: () => Promise.resolve(),
    decodedSha256: () => Promise.resolve(decoded.digest('hex')),
  };
}
