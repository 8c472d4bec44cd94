import { Readable } from 'node:stream';
import { THROTTLE_CHUNK_BYTES, throttleChunkBytes, type TokenBucket } from '../token-bucket.js';

// While a live bucket is unlimited, its bodies go in pieces this large: few writes, and a new limit still bites soon.
const UNLIMITED_PIECE_BYTES = 1024 * 1024;

/**
 * The request body for `data`: the Buffer itself when unlimited (the SDK can then retry the request), otherwise a
 * stream that releases about 20 ms of the rate at a time (16-256 KiB) as the shared token bucket allows, so the limit
 * applies to bytes as they are written to the socket, not to whole parts. A live bucket (whose limit may be set at
 * any moment) gets the stream for a body larger than one unlimited piece: while it is unlimited, the stream passes
 * 1 MiB pieces without waiting, and paces again from the moment a limit is set. A body of one piece or less would go
 * at once either way, so it stays a Buffer (a stream per small file is a measurable share of its CPU).
 */
export function requestBody(
  data: Buffer,
  bucket: TokenBucket,
  signal: AbortSignal | undefined,
): Buffer | Readable {
  if (bucket.rate === 0 && (!bucket.live || data.length <= UNLIMITED_PIECE_BYTES)) return data;
  let offset = 0;
  return new Readable({
    highWaterMark: THROTTLE_CHUNK_BYTES,
    read() {
      if (offset >= data.length) {
        this.push(null);
        return;
      }
      if (bucket.rate === 0) {
        const piece = data.subarray(offset, offset + UNLIMITED_PIECE_BYTES);
        offset += piece.length;
        this.push(piece);
        return;
      }
      const chunk = data.subarray(offset, offset + throttleChunkBytes(bucket.rate));
      offset += chunk.length;
      bucket.take(chunk.length, signal).then(
        () => this.push(chunk),
        (error: unknown) => this.destroy(error instanceof Error ? error : new Error(String(error))),
      );
    },
  });
}
