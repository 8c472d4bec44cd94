import type { Clock } from '../clock.js';
import type { ObjectStore } from '../pipeline/index.js';
import type { ManifestJournal } from './journal.js';

/**
 * The object store, recording each verified upload in the day's manifest journal: what S3 now holds, whatever the
 * pipeline decides next (an object of a file that changed meanwhile is still in S3, and a newer version written to
 * the same key later replaces the line).
 */
export function recordingDeliveries(
  objects: ObjectStore,
  journal: ManifestJournal,
  clock: Clock,
): ObjectStore {
  return {
    async upload(request) {
      const result = await objects.upload(request);
      const now = clock.now();
      journal.record(
        {
          type: 'uploaded',
          key: result.key,
          size: result.bytes,
          sha256: result.sha256,
          mtime: new Date(result.version.mtimeMs).toISOString(),
          uploaded_at: new Date(now).toISOString(),
          path: request.filePath,
          ...(result.original === undefined
            ? {}
            : { original_size: result.original.size, original_sha256: result.original.sha256 }),
        },
        now,
      );
      return result;
    },
    checkDestination: (signal) => objects.checkDestination(signal),
  };
}

/** A file deleted before it was uploaded, as the deletion side knows it. */
export interface UnsentDeletion {
  path: string;
  size: number;
  mtimeMs?: number | undefined;
  policy: string;
  reason: string;
}

/** Records deletions of never-uploaded files in the day's manifest journal. */
export function recordUnsent(journal: ManifestJournal, clock: Clock, files: readonly UnsentDeletion[]): void {
  const now = clock.now();
  for (const file of files) {
    journal.record(
      {
        type: 'deleted',
        path: file.path,
        size: file.size,
        ...(file.mtimeMs === undefined ? {} : { mtime: new Date(file.mtimeMs).toISOString() }),
        policy: file.policy,
        reason: file.reason,
        deleted_at: new Date(now).toISOString(),
      },
      now,
    );
  }
}
