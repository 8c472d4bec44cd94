import { basename } from 'node:path';
import { classify, decide, type Classification } from '@tvm/error-classification';
import type { QueueEntry } from '@tvm/durable-queue';
import type { StoredObject } from './ports.js';

/** The retry budget and schedule (`upload.retry`). */
export interface RetryPolicy {
  maxRetries: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

/** What {@link transition} decides by: the retry policy and the bucket (for the log lines). */
export interface TransitionPolicy {
  retry: RetryPolicy;
  bucket: string;
}

/** The identity of the file version the uploader verified (it read exactly these bytes). */
export interface SentVersion {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
}

/** What one attempt at a queued file came to. */
export type Outcome =
  | ({ kind: 'uploaded' } & StoredObject)
  /**
   * The upload stopped between parts when asked (a file of a higher lane took its slot, or the admission said so):
   * not an attempt. The multipart state is in the queue entry already; the upload resumes later.
   */
  | { kind: 'paused'; reason: string }
  /** The entry was refused before any I/O (a path outside the log directories, say). */
  | { kind: 'rejected'; category: string; reason: string }
  /**
   * The attempt failed. `reachable` is the destination probe's answer, asked only for connectivity errors:
   * `false` means an outage (not the file's fault).
   */
  | {
      kind: 'failed';
      error: unknown;
      reachable?: boolean;
      /** Uploads are paused for a destination error already: this file's failure adds nothing to tell. */
      destinationPaused?: boolean;
      /**
       * The entry left the queue while the attempt ran (the emergency policy or `tvm-upload cleanup` deleted the
       * file and recorded it, or an operator removed the entry): nothing is left to record.
       */
      dequeued?: boolean;
    };

/** A change to the state, or something to tell: carried out by the pipeline through its ports. */
export type Effect =
  | { type: 'queue-update'; patch: Partial<Pick<QueueEntry, 'attempts' | 'nextAttemptAt' | 'lastError'>> }
  | { type: 'uploaded'; key: string; version: SentVersion; bytesSent: number }
  | { type: 'failed'; category: string; message: string; attempts: number; lastCategory?: string }
  | { type: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; message: string }
  | { type: 'retry-scheduled' }
  | { type: 'upload-failed'; category: string }
  | { type: 'pause-destination'; classification: Classification }
  | { type: 'upload-succeeded' };

/** Category of an entry whose retries ran out (the failed list's `category`). */
export const RETRIES_EXHAUSTED = 'retries-exhausted';

/** Seconds for the runbook's `(next attempt in Ns)`: whole seconds, or a fraction below one second. */
export function formatDelay(ms: number): string {
  if (ms >= 1000) return `${Math.round(ms / 1000)}s`;
  return `${Number((ms / 1000).toFixed(3))}s`;
}

/**
 * What happens to a queue entry after an attempt: the pipeline's whole decision, as data. `now` is epoch ms.
 * No I/O and no clock: every effect is carried out by the caller.
 *
 * - uploaded: the entry leaves the queue and the verified version is registered.
 * - an outage (a connectivity error while the probe cannot reach the destination): no retry is spent; the entry
 *   waits, due at once when the destination returns.
 * - a temporary error: a retry is scheduled (`Retry X/10 for <name> (next attempt in Ns)`), until the budget runs
 *   out; then the failed list (`PERMANENT FAILURE: retries exhausted ...`).
 * - a permanent error of the file (missing, unreadable, a name S3 refuses): the failed list at once.
 * - a permanent error of the destination (credentials, access, bucket): the runbook's lines for this file, the
 *   pipeline pauses, and the entry stays queued with its retry state untouched. It is nobody's file's fault, so
 *   fixing the destination (and restarting) uploads every file.
 */
export function transition(
  entry: QueueEntry,
  outcome: Outcome,
  now: number,
  policy: TransitionPolicy,
): Effect[] {
  const { retry } = policy;
  const path = entry.filepath;
  const name = basename(path);
  if (outcome.kind === 'uploaded') {
    const notes = [
      outcome.skipped ? 'already in S3, nothing sent' : undefined,
      outcome.resumedParts ? `resumed ${outcome.resumedParts} of ${outcome.parts ?? '?'} parts` : undefined,
    ].filter(Boolean);
    return [
      {
        type: 'uploaded',
        key: outcome.key,
        version: outcome.version,
        bytesSent: outcome.skipped ? 0 : outcome.bytes,
      },
      {
        type: 'log',
        level: 'info',
        message: `Uploaded ${path} to s3://${policy.bucket}/${outcome.key} (${outcome.bytes} bytes${notes.length ? `, ${notes.join(', ')}` : ''})`,
      },
      { type: 'upload-succeeded' },
    ];
  }
  if (outcome.kind === 'paused') {
    return [
      {
        type: 'log',
        level: 'info',
        message: `Upload of ${path} paused after its current part (${outcome.reason}); it resumes later`,
      },
    ];
  }
  if (outcome.kind === 'rejected') {
    return [
      { type: 'failed', category: outcome.category, message: outcome.reason, attempts: entry.attempts },
      {
        type: 'log',
        level: 'error',
        message: `Rejected queue entry "${path}": ${outcome.reason}`,
      },
    ];
  }

  const classification = classify(outcome.error, { now });
  if (classification.category === 'aborted') {
    // Shutdown: not an attempt. The multipart state is already in the queue entry.
    return [
      { type: 'log', level: 'debug', message: `Upload of ${path} interrupted; it resumes at the next start` },
    ];
  }
  if (outcome.dequeued) {
    return [
      {
        type: 'log',
        level: 'debug',
        message: `Upload of ${path} failed after it left the queue (${classification.message}); nothing to record`,
      },
    ];
  }
  const lastError = { category: classification.category, message: classification.message, at: now };
  const failedMetric: Effect = { type: 'upload-failed', category: classification.category };
  if (outcome.reachable === false) {
    return [
      failedMetric,
      { type: 'queue-update', patch: { lastError, nextAttemptAt: 0 } },
      {
        type: 'log',
        level: 'debug',
        message: `Upload of ${path} paused by the outage: ${classification.message}`,
      },
    ];
  }
  const decision = decide(outcome.error, entry.attempts, { ...retry, now });
  if (decision.action === 'retry') {
    return [
      failedMetric,
      {
        type: 'queue-update',
        patch: { attempts: decision.retryNumber, nextAttemptAt: now + decision.delayMs, lastError },
      },
      { type: 'retry-scheduled' },
      { type: 'log', level: 'warn', message: `Upload failed for ${path}: ${classification.message}` },
      {
        type: 'log',
        level: 'warn',
        message: `Retry ${decision.retryNumber}/${retry.maxRetries} for ${name} (next attempt in ${formatDelay(decision.delayMs)})`,
      },
    ];
  }
  if (decision.reason === RETRIES_EXHAUSTED) {
    return [
      failedMetric,
      {
        type: 'failed',
        category: RETRIES_EXHAUSTED,
        message: classification.message,
        attempts: entry.attempts + 1,
        lastCategory: classification.category,
      },
      {
        type: 'log',
        level: 'error',
        message: `PERMANENT FAILURE: retries exhausted (${retry.maxRetries}/${retry.maxRetries}) for ${path}: ${classification.message}`,
      },
    ];
  }
  if (classification.scope === 'destination' && outcome.destinationPaused) {
    // Another upload met the same destination error first and paused the queue; this entry waits untouched.
    return [
      {
        type: 'log',
        level: 'debug',
        message: `Upload of ${path} stopped by the pause: ${classification.message}`,
      },
    ];
  }
  const lines: Effect[] = [
    { type: 'log', level: 'error', message: `PERMANENT FAILURE: ${classification.message}` },
    {
      type: 'log',
      level: 'error',
      message: `Permanent upload error for ${name}: ${rawMessage(outcome.error)}`,
    },
  ];
  if (classification.scope === 'destination') {
    return [failedMetric, ...lines, { type: 'pause-destination', classification }];
  }
  return [
    failedMetric,
    {
      type: 'failed',
      category: classification.category,
      message: classification.message,
      attempts: entry.attempts + 1,
    },
    ...lines,
  ];
}

/** The error's own words (`ENOENT: no such file or directory, open '/x'`), for the runbook's second line. */
export function rawMessage(error: unknown): string {
  let node: unknown = error;
  for (let depth = 0; depth < 5 && node instanceof Error; depth++) {
    if (node.cause instanceof Error) node = node.cause;
    else break;
  }
  if (node instanceof Error) {
    const name =
      node.name && node.name !== 'Error' && !node.message.startsWith(node.name) ? `${node.name}: ` : '';
    return `${name}${node.message}`.replace(/\s+/g, ' ');
  }
  return String(error);
}
