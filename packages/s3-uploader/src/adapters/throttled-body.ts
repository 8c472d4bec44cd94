import { Readable } from 'node:stream';
import { THROTTLE_CHUNK_BYTES, type TokenBucket } from '../token-bucket.js';

/**
 * The request body for `data`: the Buffer itself when unlimited (the SDK can then retry the request), otherwise a
 * stream that releases 16 KiB at a time as the shared token bucket allows, so the limit applies to bytes as they
 * are written to the socket, not to whole parts.
 */
export function requestBody(
  data: Buffer,
  bucket: TokenBucket,
  signal: AbortSignal | undefined,
): Buffer | Readable {
  if (bucket.rate === 0) return data;
  let offset = 0;
  return new Readable({
    highWaterMark: THROTTLE_CHUNK_BYTES,
    read() {
      if (offset >= data.length) {
        this.push(null);
        return;
      }
      const chunk = data.subarray(offset, offset + THROTTLE_CHUNK_BYTES);
      offset += chunk.length;
      bucket.take(chunk.length, signal).then(
        () => this.push(chunk),
        (error: unknown) => this.destroy(error instanceof Error ? error : new Error(String(error))),
      );
    },
  });
}
