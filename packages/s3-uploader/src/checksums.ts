import { createHash } from 'node:crypto';

/**
 * How parts and objects are checked in transit:
 * - `when_supported`: S3's flexible checksums, SHA-256 per part (`x-amz-checksum-sha256`) and a composite
 *   whole-object checksum S3 computes and returns on HEAD;
 * - `when_required`: only what every S3-compatible server understands: `Content-MD5` on every request.
 */
export type ChecksumMode = 'when_supported' | 'when_required';

/** The algorithm a multipart upload was started with; recorded in its resume state. */
export type PartChecksumAlgorithm = 'SHA256' | 'MD5';

/** The algorithm used for parts in each mode. */
export function partAlgorithm(mode: ChecksumMode): PartChecksumAlgorithm {
  // SHA-256 rather than CRC32C: Node hashes SHA-256 natively (about 1 GB/s with SHA-NI on the vehicles' x86 CPUs),
  // while CRC32C has no native implementation on Node 20 and the SDK's pure-JS one is several times slower.
  return mode === 'when_supported' ? 'SHA256' : 'MD5';
}

/** The base64 digest of `data` sent with a request: `x-amz-checksum-sha256` or `Content-MD5`. */
export function partChecksum(data: Uint8Array, algorithm: PartChecksumAlgorithm): string {
  return createHash(algorithm === 'SHA256' ? 'sha256' : 'md5')
    .update(data)
    .digest('base64');
}

/**
 * S3's composite checksum of a multipart object: the SHA-256 of the concatenated binary part digests, then
 * `-<part count>`. S3 returns it on HEAD (with checksum mode enabled) for uploads made with SHA-256 parts.
 */
export function compositeSha256(partChecksums: readonly string[]): string {
  const hash = createHash('sha256');
  for (const checksum of partChecksums) hash.update(Buffer.from(checksum, 'base64'));
  return `${hash.digest('base64')}-${partChecksums.length}`;
}

/** A hex SHA-256 as the base64 S3 uses in `x-amz-checksum-sha256`. */
export function hexToBase64(hex: string): string {
  return Buffer.from(hex, 'hex').toString('base64');
}
