import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { identityOf, type FileIdentity } from '@tvm/durable-queue';
import { UploadError, type Uploader, type UploadRequest, type UploadResult } from '@tvm/s3-uploader';
import { displayFileName, encodeFileName } from '../file-names.js';
import type { AgentLogger } from '../logger.js';
import { compressedObjectKey } from '../object-key.js';
import { compressedLength } from './codecs.js';
import {
  planCompression,
  SAMPLE_BYTES,
  type CompressionAlgorithm,
  type CompressionSetting,
} from './decision.js';
import type { Spool, SpoolFile, SpoolUnavailable } from './spool.js';

/** Object metadata (`x-amz-meta-*`) of a compressed object: the algorithm. */
export const COMPRESSION_METADATA_KEY = 'tvm-compression';
/** Object metadata: the original file's size in bytes (decimal). */
export const ORIGINAL_SIZE_METADATA_KEY = 'tvm-original-size';
/** Object metadata: the original file's SHA-256 (hex); the object's own `sha256` is the compressed bytes'. */
export const ORIGINAL_SHA256_METADATA_KEY = 'tvm-original-sha256';

/** What {@link compressingUploader} needs. */
export interface CompressionOptions {
  spool: Spool;
  /** The `compress` setting of the log directory `filePath` (the path the upload opens) lies in. */
  settingFor: (filePath: string) => CompressionSetting;
  logger: Pick<AgentLogger, 'debug' | 'warn'>;
}

/** The metadata of an object holding `marker`'s compressed copy. */
export function compressionMetadata(marker: SpoolFile['marker']): Record<string, string> {
  return {
    [COMPRESSION_METADATA_KEY]: marker.algorithm,
    [ORIGINAL_SIZE_METADATA_KEY]: String(marker.original.size),
    [ORIGINAL_SHA256_METADATA_KEY]: marker.original.sha256,
  };
}

/** An upload's result; `original` is set when the object is a compressed copy: the original file's size and SHA-256. */
export type CompressedUploadResult = UploadResult & { original?: { size: number; sha256: string } };

/**
 * An uploader that compresses files whose log directory asks for it: the file is compressed into the spool
 * ({@link Spool}), and the spool file is uploaded, as any file, to the key with `.gz` / `.zst` appended, with the
 * original's size and SHA-256 in its metadata. The result names the original's version (`identity`) and the object
 * (`key`, `bytes`, `sha256` of the compressed bytes), and `original` the original's size and SHA-256. A saved multipart state of the spool file resumes, since a
 * spool file is the same file again after a restart. Sent as they are (the request unchanged): files the decision
 * ({@link planCompression}) leaves alone, and, logged, files whose spool cannot be written (a full disk).
 */
export function compressingUploader(
  uploader: Pick<Uploader, 'upload'>,
  options: CompressionOptions,
): { upload(request: UploadRequest): Promise<CompressedUploadResult> } {
  const { spool, logger } = options;
  return {
    async upload(request: UploadRequest): Promise<CompressedUploadResult> {
      const setting = options.settingFor(request.filePath);
      if (setting === 'none') return uploader.upload(request);
      let handle: FileHandle;
      try {
        handle = await open(encodeFileName(request.filePath), constants.O_RDONLY | constants.O_NOFOLLOW);
      } catch {
        // The uploader opens it again and fails with the error classified as usual (missing, unreadable, a symlink).
        return uploader.upload(request);
      }
      let prepared: SpoolFile | SpoolUnavailable | { asIs: string };
      try {
        const chosen = await choose(handle, request.filePath, setting);
        prepared =
          'asIs' in chosen
            ? chosen
            : await spool.prepare(request.filePath, handle, chosen.before, chosen.algorithm, {
                expectedSize: chosen.expectedSize,
                ...(request.signal ? { signal: request.signal } : {}),
              });
      } finally {
        await handle.close().catch(() => undefined);
      }
      if ('asIs' in prepared) {
        logger.debug(`Sending ${displayFileName(request.filePath)} uncompressed: ${prepared.asIs}`);
        return uploader.upload(request);
      }
      if ('unavailable' in prepared) {
        logger.warn(
          `Cannot compress ${displayFileName(request.filePath)} into ${spool.directory} (${prepared.unavailable}): sending it uncompressed`,
        );
        return uploader.upload(request);
      }
      const spooled = prepared;
      const { marker } = spooled;
      logger.debug(
        `${spooled.reused ? 'Resuming with' : 'Compressed'} ${displayFileName(request.filePath)} (${marker.algorithm}): ${marker.original.size} -> ${marker.compressed.size} bytes`,
      );
      const key = compressedObjectKey(request.key, marker.algorithm);
      const result = await uploader.upload({
        ...request,
        filePath: spooled.path,
        key,
        metadata: { ...request.metadata, ...compressionMetadata(marker) },
      });
      if (result.sha256 !== marker.compressed.sha256) {
        // The spool changed between its check and its upload: never reported as the original's upload.
        await spool.remove(spooled.id, marker.algorithm);
        const message = `The compressed copy of ${displayFileName(request.filePath)} changed before it was sent (SHA-256 ${result.sha256}, expected ${marker.compressed.sha256})`;
        throw new UploadError('verification-failed', message, {
          cause: new Error(message),
          classification: { kind: 'temporary', category: 'unknown', scope: 'file', message },
          key,
        });
      }
      await spool.remove(spooled.id, marker.algorithm);
      const { sha256: originalSha256, ...original } = marker.original;
      return {
        ...result,
        identity: original satisfies FileIdentity,
        original: { size: original.size, sha256: originalSha256 },
      };
    },
  };
}

/** Reads the file's first MiB and decides; resolves to the algorithm and the version read, or why it goes as is. */
async function choose(
  handle: FileHandle,
  filePath: string,
  setting: CompressionSetting,
): Promise<
  { asIs: string } | { algorithm: CompressionAlgorithm; before: FileIdentity; expectedSize: number }
> {
  let before: FileIdentity;
  let head: Buffer;
  try {
    before = identityOf(await handle.stat());
    head = Buffer.allocUnsafe(Math.min(SAMPLE_BYTES, before.size));
    let filled = 0;
    while (filled < head.length) {
      const { bytesRead } = await handle.read(head, filled, head.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    head = head.subarray(0, filled);
  } catch (error) {
    return { asIs: `its first bytes could not be read (${(error as Error).message})` };
  }
  const name = basename(filePath);
  let plan = planCompression({ setting, name, head });
  let ratio = 1;
  if (plan.action === 'sample') {
    const sample = { bytes: head.length, compressedBytes: await compressedLength(plan.algorithm, head) };
    ratio = sample.bytes > 0 ? sample.compressedBytes / sample.bytes : 1;
    plan = planCompression({ setting, name, head, sample });
  }
  switch (plan.action) {
    case 'as-is':
      return { asIs: plan.reason };
    case 'compress':
      // The spool's likely size, from the sample, with a margin: the rest of a file may compress less well.
      return {
        algorithm: plan.algorithm,
        before,
        expectedSize: Math.ceil(before.size * Math.min(1, ratio + 0.1)),
      };
    case 'sample':
      throw new Error('planCompression asked for a sample twice');
  }
}
