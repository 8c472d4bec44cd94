import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { createUploader } from '../src/index.js';
import { MiB, randomFile, readObject, useServers } from './helpers.js';

const env = useServers({ proxy: true });

describe('createUploader({ bandwidthLimitBytesPerSecond })', () => {
  // The one real-time test of the package: the limit is about wall-clock bytes per second on a real socket.
  it(
    'holds a limit shared by concurrent uploads within 10% over a 10 s transfer',
    { timeout: 30_000 },
    async () => {
      const rate = 2 * MiB;
      const big = await randomFile(env.dir, 'big.bin', 14 * MiB); // multipart, 2 parts in flight
      const small = await randomFile(env.dir, 'small.bin', 6 * MiB); // one PutObject
      const uploader = createUploader({
        client: env.s3.client({ endpoint: env.proxy.endpoint }),
        bucket: env.s3.bucket,
        bandwidthLimitBytesPerSecond: rate,
      });
      const started = performance.now();
      const uploads = Promise.all([
        uploader.upload({ filePath: big.path, key: 'bw/big.bin' }),
        uploader.upload({ filePath: small.path, key: 'bw/small.bin' }),
      ]);
      await delay(2_000);
      const at2s = env.proxy.bytesUpstream;
      await delay(6_000);
      const at8s = env.proxy.bytesUpstream;
      await uploads;
      const seconds = (performance.now() - started) / 1000;

      const steady = (at8s - at2s) / 6;
      expect(steady).toBeGreaterThan(rate * 0.9);
      expect(steady).toBeLessThan(rate * 1.1);
      expect(seconds).toBeGreaterThan(10 * 0.9);
      expect(seconds).toBeLessThan(10 * 1.1);
      expect((await readObject(env.s3.client(), env.s3.bucket, 'bw/big.bin')).equals(big.data)).toBe(true);
      expect((await readObject(env.s3.client(), env.s3.bucket, 'bw/small.bin')).equals(small.data)).toBe(
        true,
      );
    },
  );
});
