import { lstat } from 'node:fs/promises';
import type { Uploader } from '@tvm/s3-uploader';
import { compressingUploader, type CompressionOptions } from '../compression/index.js';
import { encodeFileName } from '../file-names.js';
import { keyPathMetadata } from '../object-key.js';
import type { FileProbe, ObjectStore } from '../pipeline/index.js';

/** The pipeline's file probe on the real file system: `lstat`, so a symlink is never taken for its target. */
export const fileSystemProbe: FileProbe = {
  async stat(path) {
    const stats = await lstat(encodeFileName(path));
    return { isFile: stats.isFile(), size: stats.size, mtimeMs: stats.mtimeMs };
  },
};

/**
 * The pipeline's object store on `@tvm/s3-uploader`: the uploader reports the version it verified. An object of a
 * file whose name is not valid UTF-8 carries the metadata that says how its key was written (`keyPathMetadata`).
 * With `compression`, files of log directories that ask for it are sent compressed (`compressingUploader`).
 */
export function uploaderObjectStore(uploader: Uploader, compression?: CompressionOptions): ObjectStore {
  const sender = compression ? compressingUploader(uploader, compression) : uploader;
  return {
    async upload(request) {
      const names = keyPathMetadata(request.filePath);
      const result = await sender.upload(
        Object.keys(names).length === 0
          ? request
          : { ...request, metadata: { ...request.metadata, ...names } },
      );
      return {
        key: result.key,
        bytes: result.bytes,
        version: result.identity,
        ...(result.skipped ? { skipped: result.skipped } : {}),
        ...(result.parts === undefined ? {} : { parts: result.parts }),
        ...(result.resumedParts === undefined ? {} : { resumedParts: result.resumedParts }),
      };
    },
    checkDestination: (signal) => uploader.checkDestination(signal),
  };
}
