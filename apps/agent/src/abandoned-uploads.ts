import type { PendingUpload, Uploader } from '@tvm/s3-uploader';
import { classify } from '@tvm/error-classification';
import type { AgentLogger } from './logger.js';

/**
 * How old an unreferenced multipart upload must be before it is aborted. A day is far longer than any upload takes
 * between `CreateMultipartUpload` and the first saved state (which is what makes the queue reference it), so an
 * upload in flight is never taken for abandoned, and short enough that S3 bills forgotten parts for a day at most.
 */
export const DEFAULT_ABANDONED_UPLOAD_AGE_MS = 24 * 60 * 60 * 1000;

/** Options of {@link abortAbandonedUploads}. */
export interface AbandonedUploadsOptions {
  /** The destination's uploader (its client, bucket and clock). */
  uploader: Pick<Uploader, 'abortStaleUploads'>;
  /** Only uploads under `${vehicleId}/` are looked at: the bucket is shared by the fleet. */
  vehicleId: string;
  /** Upload ids some queue or failed-list entry still holds (it will resume them): never aborted. */
  referencedUploadIds: ReadonlySet<string>;
  /** @default DEFAULT_ABANDONED_UPLOAD_AGE_MS (24 h) */
  olderThanMs?: number;
  logger: Pick<AgentLogger, 'info' | 'warn'>;
  signal?: AbortSignal;
}

/** What {@link abortAbandonedUploads} did; `error` is set when it could not finish (nothing was thrown). */
export interface AbandonedUploadsResult {
  aborted: PendingUpload[];
  /** Uploads left alone: referenced by an entry, or younger than the age limit (0 when `error` is set). */
  kept: number;
  error?: string;
}

/**
 * Aborts this vehicle's multipart uploads that no queue entry references and that started more than `olderThanMs`
 * ago: S3 bills their parts until they are aborted, and nothing else would ever finish them. Logs one line per abort
 * and a summary. Never throws: a destination that cannot list uploads (no `s3:ListBucketMultipartUploads`, an
 * S3-compatible server without the call) is logged as a warning, and the next run tries again.
 */
export async function abortAbandonedUploads(
  options: AbandonedUploadsOptions,
): Promise<AbandonedUploadsResult> {
  const { uploader, referencedUploadIds, logger } = options;
  const prefix = `${options.vehicleId}/`;
  const olderThanMs = options.olderThanMs ?? DEFAULT_ABANDONED_UPLOAD_AGE_MS;
  const age = formatAge(olderThanMs);
  const aborted: PendingUpload[] = [];
  try {
    const result = await uploader.abortStaleUploads({
      prefix,
      olderThanMs,
      keep: (upload) => referencedUploadIds.has(upload.uploadId),
      onAborted: (upload) => {
        aborted.push(upload);
        const started =
          upload.initiatedAt === undefined ? '' : `, started ${new Date(upload.initiatedAt).toISOString()}`;
        logger.info(
          `Aborted abandoned multipart upload ${upload.key} (upload id ${upload.uploadId}${started}): no queue entry references it`,
        );
      },
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    logger.info(
      `Abandoned multipart uploads under ${prefix}: ${result.aborted.length} aborted, ${result.kept} kept (referenced by the queue or younger than ${age})`,
    );
    return result;
  } catch (error) {
    const message = classify(error).message;
    logger.warn(
      `Abandoned multipart uploads under ${prefix} not cleaned up (${aborted.length} aborted before): ${message}`,
    );
    return { aborted, kept: 0, error: message };
  }
}

function formatAge(ms: number): string {
  const hours = ms / 3_600_000;
  return Number.isInteger(hours) ? `${hours} h` : `${Math.round(ms / 60_000)} min`;
}
