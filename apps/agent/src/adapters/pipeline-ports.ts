import { lstat } from 'node:fs/promises';
import type { Uploader } from '@tvm/s3-uploader';
import {
  compressingUploader,
  type CompressedUploadResult,
  type CompressionOptions,
} from '../compression/index.js';
import { encodeFileName } from '../file-names.js';
import { keyPathMetadata } from '../object-key.js';
import { objectMetadata, objectTags, type TagConfig } from '../object-governance.js';
import type { FileProbe, ObjectStore } from '../pipeline/index.js';

/** The pipeline's file probe on the real file system: `lstat`, so a symlink is never taken for its target. */
export const fileSystemProbe: FileProbe = {
  async stat(path) {
    const stats = await lstat(encodeFileName(path));
    return { isFile: stats.isFile(), size: stats.size, mtimeMs: stats.mtimeMs };
  },
};

/**
/**
 * The pipeline's object store on `@tvm/s3-uploader`: the uploader reports the version it verified. Every object
 * carries the agent's metadata and `s3.tags` (object-governance.ts); one of a file whose name is not valid UTF-8
 * also the metadata that says how its key was written (`keyPathMetadata`). With `compression`, files of log
 * directories that ask for it are sent compressed (`compressingUploader`).
 */
export function uploaderObjectStore(
  uploader: Uploader,
  config: () => TagConfig,
  compression?: CompressionOptions,
): ObjectStore {
  const sender = compression ? compressingUploader(uploader, compression) : uploader;
  return {
    async upload({ source, mtimeMs, ...request }) {
      const current = config();
      const result: CompressedUploadResult = await sender.upload({
        ...request,
        metadata: {
          ...request.metadata,
          ...objectMetadata({ vehicleId: current.vehicle_id, source, filePath: request.filePath, mtimeMs }),
          ...keyPathMetadata(request.filePath),
        },
        tags: objectTags(current, source),
      });
      return {
        key: result.key,
        bytes: result.bytes,
        sha256: result.sha256,
        version: result.identity,
        ...(result.skipped ? { skipped: result.skipped } : {}),
        ...(result.parts === undefined ? {} : { parts: result.parts }),
        ...(result.resumedParts === undefined ? {} : { resumedParts: result.resumedParts }),
        ...(result.original === undefined ? {} : { original: result.original }),
      };
    },
    checkDestination: (signal) => uploader.checkDestination(signal),
  };
}
