/** S3 rejects parts under 5 MiB, except the last one. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
/** S3's largest part: 5 GiB. */
export const MAX_PART_BYTES = 5 * 1024 ** 3;
/** S3 numbers parts 1..10,000. */
export const MAX_PARTS = 10_000;
const MIB = 1024 * 1024;

/**
 * The part size for a file of `size` bytes: `preferred`, grown in whole MiB until the file fits in 10,000 parts
 * (a 5 TiB file gets parts of about 525 MiB).
 */
export function choosePartSize(size: number, preferred: number): number {
  const needed = Math.ceil(size / MAX_PARTS);
  if (needed <= preferred) return preferred;
  return Math.min(MAX_PART_BYTES, Math.ceil(needed / MIB) * MIB);
}

/** How many parts a file of `size` bytes has at `partSize` (at least one). */
export function partCount(size: number, partSize: number): number {
  return Math.max(1, Math.ceil(size / partSize));
}

/** The byte length of part `partNumber` (1-based). */
export function partLength(size: number, partSize: number, partNumber: number): number {
  return Math.min(partSize, size - (partNumber - 1) * partSize);
}
