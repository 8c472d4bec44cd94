import type { ObjectHead } from './adapters/s3.js';
import type { BodyChecksum } from './checksums.js';

/** The object metadata entry (`x-amz-meta-sha256`) holding the file's hex SHA-256. */
export const SHA256_METADATA_KEY = 'sha256';

/** Why `head` is not the object expected, or undefined when it is. */
export function verificationProblem(
  head: ObjectHead | undefined,
  expected: { size: number; sha256?: string; checksum?: BodyChecksum | undefined },
): string | undefined {
  if (!head) return 'the object is missing';
  if (head.size !== expected.size) return `the object has ${head.size} bytes, the file ${expected.size}`;
  const stored = head.metadata[SHA256_METADATA_KEY];
  if (expected.sha256 !== undefined && stored !== expected.sha256) {
    return `the object's sha256 metadata is ${JSON.stringify(stored)}, the file's ${expected.sha256}`;
  }
  const { checksum } = expected;
  if (checksum === undefined || checksum.algorithm === 'MD5') return undefined;
  const kept = checksum.algorithm === 'CRC32' ? head.checksumCrc32 : head.checksumSha256;
  // A server that keeps no checksum (s3rver) has only the size and the metadata to show.
  if (kept !== undefined && kept !== checksum.value) {
    return `S3's ${checksum.algorithm} checksum is ${kept}, expected ${checksum.value}`;
  }
  return undefined;
}

/** The hex MD5 a plain S3 ETag carries; undefined for SSE-KMS, multipart (`-N`) and other opaque ETags. */
export function plainMd5Etag(etag: string | undefined): string | undefined {
  const hex = etag?.replace(/"/g, '').toLowerCase();
  return hex !== undefined && /^[0-9a-f]{32}$/.test(hex) ? hex : undefined;
}
