import type { PartChecksumAlgorithm } from './checksums.js';

/** One part S3 has accepted. */
export interface CompletedPart {
  partNumber: number;
  etag: string;
  /** The base64 digest of the part (CRC32 or SHA-256, per the state's `checksumAlgorithm`; '' when unknown). */
  checksum: string;
}

/**
 * Everything needed to continue a multipart upload in another process: plain JSON, persisted by the caller after
 * every completed part (see `onStateChange`). It describes one version of one file; a state that does not match
 * the file any more is dropped and the upload starts over.
 */
export interface MultipartState {
  version: 1;
  bucket: string;
  key: string;
  uploadId: string;
  /** The file's size and mtime when the upload started. */
  size: number;
  mtimeMs: number;
  /** Hex SHA-256 of the whole file, also stored as the object's `sha256` metadata. */
  sha256: string;
  partSize: number;
  checksumAlgorithm: PartChecksumAlgorithm;
  /** When the upload was created (epoch ms), for the stale-upload clean-up. */
  startedAt: number;
  /** Parts S3 has accepted, ascending by part number. */
  parts: CompletedPart[];
}

/** Why `state` cannot continue an upload of this file, or undefined when it can. */
export function stateMismatch(
  state: MultipartState,
  expected: Pick<MultipartState, 'bucket' | 'key' | 'size' | 'mtimeMs' | 'sha256' | 'checksumAlgorithm'>,
): string | undefined {
  if (state.version !== 1) return `unknown state version ${String(state.version)}`;
  for (const field of ['bucket', 'key', 'size', 'mtimeMs', 'sha256', 'checksumAlgorithm'] as const) {
    if (state[field] !== expected[field]) {
      return `${field} differs (saved ${JSON.stringify(state[field])}, now ${JSON.stringify(expected[field])})`;
    }
  }
  if (typeof state.uploadId !== 'string' || state.uploadId.length === 0) return 'the upload id is missing';
  if (!Number.isInteger(state.partSize) || state.partSize <= 0) return 'the part size is invalid';
  return undefined;
}

/** A deep copy, so a caller holding a previous state never sees it change. */
export function snapshot(state: MultipartState): MultipartState {
  return { ...state, parts: state.parts.map((part) => ({ ...part })) };
}
