import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { classify, decide, type Category, type Classification } from '@tvm/error-classification';
import { loadBuffer, saveBuffer } from './adapters/buffer-file.js';
import { putPoints } from './adapters/cloudwatch.js';
import { splitIntoRequests } from './batches.js';
import { DEFAULT_NAMESPACE, type MetricName } from './catalog.js';
import { systemClock, type Clock } from './clock.js';
import { invalidOption, type MetricsErrorCode } from './errors.js';
import { defaultLogger, type Logger } from './logger.js';
import { Aggregator, byTimestamp, prunePoints, type MetricPoint } from './points.js';
import { renderPrometheus } from './prometheus.js';

/** Default publish interval: one point per 5 minutes, so "FailureCount > 5 per hour" can alarm within the hour. */
export const DEFAULT_PUBLISH_INTERVAL_MS = 300_000;
/** Default cap of the unsent-points buffer. */
export const DEFAULT_MAX_BUFFERED_POINTS = 10_000;
/** CloudWatch refuses datums with timestamps more than two weeks old. */
export const MAX_POINT_AGE_MS = 14 * 24 * 3_600_000;
/** A permanent CloudWatch error (access denied) is logged at most this often, not once per point. */
export const PERMANENT_ERROR_LOG_INTERVAL_MS = 3_600_000;

/** Options of {@link createMetrics}. */
export interface MetricsOptions {
  /**
   * The CloudWatch client (constructed by the caller: region, credentials, endpoint). Without one, nothing is
   * sent or buffered; the snapshot and the Prometheus text still work (`monitoring.cloudwatch_enabled: false`).
   * @default undefined
   */
  client?: CloudWatchClient | undefined;
  /** The vehicle's id: the value of the `VehicleId` dimension on every datum. */
  vehicleId: string;
  /** @default 'TVM/Upload' */
  namespace?: string;
  /** @default systemClock (its sleeps are unref'd) */
  clock?: Clock;
  /**
   * Length of one aggregation bucket and the publish period, in ms; buckets are aligned to the epoch.
   * Use a divisor of one hour so points line up with the hourly alarm.
   * @default 300000
   */
  publishIntervalMs?: number;
  /**
   * File that keeps unsent points across restarts (written atomically, only while something is unsent).
   * Without it the buffer lives in memory and a restart loses it.
   * @default undefined
   */
  bufferFile?: string | undefined;
  /** Cap of the unsent-points buffer; beyond it the oldest points are dropped and counted. @default 10000 */
  maxBufferedPoints?: number;
  /** Time limit of one PutMetricData request, in ms (a hung connection must not stall the publisher). @default 30000 */
  requestTimeoutMs?: number;
  /** How long {@link Metrics.stop}'s final flush may take, in ms; what is left is saved to the buffer. @default 5000 */
  stopTimeoutMs?: number;
  /** @default warnings and errors to stderr */
  logger?: Logger;
}

/** The counters of {@link MetricsSnapshot}, named after their CloudWatch metrics. */
export type CounterName = Extract<
  MetricName,
  | 'FileCount'
  | 'BytesUploaded'
  | 'FailureCount'
  | 'PermanentFailureCount'
  | 'RetryCount'
  | 'ServiceStartup'
  | 'DeletedUnsentFiles'
>;

/** A gauge's last sample. */
export interface GaugeReading {
  value: number;
  /** Epoch ms of the sample. */
  at: number;
}

/** The last error the publisher met. */
export interface MetricsLastError {
  code: MetricsErrorCode;
  category: Category;
  message: string;
  /** Epoch ms. */
  at: number;
}

/** The numbers without AWS: plain JSON for the agent's `status` command. */
export interface MetricsSnapshot {
  vehicleId: string;
  namespace: string;
  /** True when a client was given (points are sent and buffered). */
  publishing: boolean;
  /** Totals since this process created the recorder. */
  counters: Record<CounterName, number>;
  /** Failed attempts by error category. */
  failuresByCategory: Record<string, number>;
  /** Files given up on, by error category. */
  permanentFailuresByCategory: Record<string, number>;
  gauges: {
    /** Last disk usage sample per mount (`''` when no mount was given). */
    DiskUsagePercent: Record<string, GaugeReading>;
    QueueDepth: GaugeReading | null;
    OldestPendingAgeSeconds: GaugeReading | null;
    /** Last {@link Metrics.uploadsPaused} sample: 1 paused, 0 online. */
    UploadsPaused: GaugeReading | null;
  };
  /** Epoch ms of the last PutMetricData that succeeded. */
  lastPublishAt: number | null;
  /** Epoch ms of the last publish attempt. */
  lastAttemptAt: number | null;
  /** Points CloudWatch accepted since start. */
  sentPoints: number;
  /** Points waiting to be sent (in the buffer, not counting the interval still open). */
  bufferedPoints: number;
  /** Points given up on since start. */
  dropped: {
    /** Older than CloudWatch accepts (two weeks). */
    expired: number;
    /** Oldest points pushed out by `maxBufferedPoints`. */
    overflow: number;
    /** Refused by the service as invalid (a permanent error about the request itself). */
    rejected: number;
  };
  lastError: MetricsLastError | null;
}

/** What {@link Metrics.publishNow} did. */
export interface PublishResult {
  /** Points CloudWatch accepted in this call. */
  sent: number;
  /** Points still waiting afterwards. */
  buffered: number;
  /** The error that stopped sending, classified; undefined when everything went out. */
  error?: Classification;
}

/**
 * The recorder (synchronous, in memory, never throws for CloudWatch's sake) and the publisher around it.
 * Call the recorder on every event; call `start()` once.
 */
export interface Metrics {
  /** A file was uploaded: FileCount +1, BytesUploaded +bytes. @throws {TypeError} when bytes is not a non-negative number */
  fileUploaded(bytes: number): void;
  /**
   * An upload attempt failed (temporary or permanent): FailureCount +1. Call it for every failed attempt,
   * including the last one; call {@link Metrics.permanentFailure} in addition when the file is given up.
   */
  uploadFailed(category: Category | (string & {})): void;
  /** A retry was scheduled: RetryCount +1. */
  retryScheduled(): void;
  /** A file was given up on (permanent error or retries exhausted): PermanentFailureCount +1. */
  permanentFailure(category: Category | (string & {})): void;
  /**
   * A disk usage sample, 0-100 (percent of the filesystem in use). CloudWatch gets the samples of every mount as
   * one series per vehicle (Maximum = the fullest mount), the series the DiskUsageHigh alarm watches; the snapshot
   * keeps the last value per mount.
   * @throws {TypeError} when percent is not within 0-100
   */
  diskUsage(percent: number, mount?: string): void;
  /** Files waiting in the queue now. @throws {TypeError} when n is not a non-negative number */
  queueDepth(n: number): void;
  /** Age of the oldest waiting file, in seconds. @throws {TypeError} when negative */
  oldestPendingAge(seconds: number): void;
  /**
   * Whether uploads are paused now (an outage, a destination error): an UploadsPaused sample of 1 or 0. Sample it
   * at least once per publish interval: the UploadsPaused alarm reads each interval's Minimum (1 = paused for
   * every sample of the interval), and an interval without a sample breaks its run of breaching periods.
   */
  uploadsPaused(paused: boolean): void;
  /** The agent started: ServiceStartup +1. */
  serviceStartup(): void;
  /**
   * A file was deleted before it was uploaded (the emergency policy freeing disk space: data loss):
   * DeletedUnsentFiles +1. Call it once per file, when the deletion is recorded in the state.
   */
  fileDeletedUnsent(): void;

  /**
   * Starts the publisher: every `publishIntervalMs`, at the bucket boundary, the closed buckets are sent. Returns at
   * once; the timer is unref'd. Calling it again does nothing.
   */
  start(): void;
  /**
   * Stops the timer and makes one final attempt to send everything (including the open bucket), bounded by
   * `stopTimeoutMs`; what is not sent stays in the buffer file for the next start. Never rejects.
   */
  stop(): Promise<void>;
  /** Sends everything recorded so far now, including the open bucket. Never rejects. */
  publishNow(): Promise<PublishResult>;
  /** Resolves when no publish is in flight. */
  idle(): Promise<void>;
  /** The numbers without AWS. */
  snapshot(): MetricsSnapshot;
  /** The snapshot in the Prometheus text exposition format (version 0.0.4). */
  prometheus(): string;
}

const COUNTERS: readonly CounterName[] = [
  'FileCount',
  'BytesUploaded',
  'FailureCount',
  'PermanentFailureCount',
  'RetryCount',
  'ServiceStartup',
  'DeletedUnsentFiles',
];

/**
 * Creates the metrics recorder and publisher. Reads `bufferFile` (synchronously, once) so points an earlier
 * process could not send are sent by this one, with their original timestamps. Sends nothing until `start()`
 * or `publishNow()`.
 * @throws {TypeError} when an option is invalid
 */
export function createMetrics(options: MetricsOptions): Metrics {
  const vehicleId = options.vehicleId;
  if (typeof vehicleId !== 'string' || vehicleId.length === 0 || vehicleId.length > 1024) {
    // CloudWatch dimension values are 1 to 1024 characters.
    invalidOption('vehicleId', 'a string of 1 to 1024 characters', vehicleId);
  }
  const namespace = options.namespace ?? DEFAULT_NAMESPACE;
  if (typeof namespace !== 'string' || namespace.length === 0 || namespace.length > 255) {
    invalidOption('namespace', 'a string of 1 to 255 characters', namespace);
  }
  const intervalMs = positiveInteger(
    'publishIntervalMs',
    options.publishIntervalMs,
    DEFAULT_PUBLISH_INTERVAL_MS,
  );
  const maxBufferedPoints = positiveInteger(
    'maxBufferedPoints',
    options.maxBufferedPoints,
    DEFAULT_MAX_BUFFERED_POINTS,
  );
  const requestTimeoutMs = positiveInteger('requestTimeoutMs', options.requestTimeoutMs, 30_000);
  const stopTimeoutMs = positiveInteger('stopTimeoutMs', options.stopTimeoutMs, 5_000);
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? defaultLogger;
  const client = options.client;
  const bufferFile = options.bufferFile;
  if (bufferFile !== undefined && (typeof bufferFile !== 'string' || bufferFile.length === 0)) {
    invalidOption('bufferFile', 'a non-empty path', bufferFile);
  }

  const aggregator = new Aggregator(intervalMs);
  const counters = Object.fromEntries(COUNTERS.map((name) => [name, 0])) as Record<CounterName, number>;
  const failuresByCategory: Record<string, number> = {};
  const permanentFailuresByCategory: Record<string, number> = {};
  const disk: Record<string, GaugeReading> = {};
  let queue: GaugeReading | null = null;
  let oldest: GaugeReading | null = null;
  let paused: GaugeReading | null = null;
  let pending: MetricPoint[] = [];
  let fileHasPoints = false;
  let lastPublishAt: number | null = null;
  let lastAttemptAt: number | null = null;
  let sentPoints = 0;
  const dropped = { expired: 0, overflow: 0, rejected: 0 };
  let lastError: MetricsLastError | null = null;
  // True between a failed request that kept its points and the next success: one log line per outage.
  let offline = false;
  let headFailures = 0;
  const lastLoggedAt = new Map<string, number>();

  let running: Promise<unknown> = Promise.resolve();
  let loop: AbortController | undefined;
  // Aborted when stop()'s deadline passes: cuts the request in flight so the final save still happens in time.
  const cutoff = new AbortController();

  if (bufferFile !== undefined && client !== undefined) {
    try {
      const loaded = loadBuffer(bufferFile, clock.now());
      pending = byTimestamp(loaded.points);
      fileHasPoints = pending.length > 0;
      if (loaded.movedAside !== undefined) {
        logger.warn(`Metrics buffer ${bufferFile} was unreadable; moved it to ${loaded.movedAside}`);
      }
      if (loaded.invalid > 0)
        logger.warn(`Metrics buffer ${bufferFile}: skipped ${loaded.invalid} invalid entries`);
    } catch (error) {
      // Never let a metrics file stop the agent from starting: record, log, go on with an empty buffer.
      const { message } = noteError('buffer-io', error);
      logger.warn(`Could not read the metrics buffer ${bufferFile}: ${message}`);
    }
  }

  /** Classifies an error and keeps it as the snapshot's `lastError`. */
  function noteError(code: MetricsErrorCode, cause: unknown): Classification {
    const classification = classify(cause, { now: clock.now() });
    lastError = { code, category: classification.category, message: classification.message, at: clock.now() };
    return classification;
  }

  function record(name: MetricName, value: number): void {
    aggregator.add(name, value, clock.now());
  }

  function count(name: CounterName, value = 1): void {
    counters[name] += value;
    record(name, value);
  }

  function gauge(name: MetricName, value: number): GaugeReading {
    record(name, value);
    return { value, at: clock.now() };
  }

  /** Logs `message` unless the same key was logged within the hour (a denied vehicle would log every 5 minutes). */
  function logHourly(key: string, level: 'warn' | 'error', message: string): void {
    const now = clock.now();
    const last = lastLoggedAt.get(key);
    if (last !== undefined && now - last < PERMANENT_ERROR_LOG_INTERVAL_MS) return;
    lastLoggedAt.set(key, now);
    logger[level](message);
  }

  async function publish(closeAll: boolean): Promise<PublishResult> {
    const now = clock.now();
    const closed = closeAll ? aggregator.takeAll() : aggregator.takeBefore(aggregator.bucketStart(now));
    if (client === undefined) return { sent: 0, buffered: 0 };
    lastAttemptAt = now;
    let changed = closed.length > 0;
    const pruned = prunePoints(byTimestamp([...pending, ...closed]), now, {
      maxAgeMs: MAX_POINT_AGE_MS,
      maxPoints: maxBufferedPoints,
    });
    pending = pruned.kept;
    if (pruned.expired > 0 || pruned.overflow > 0) {
      changed = true;
      dropped.expired += pruned.expired;
      dropped.overflow += pruned.overflow;
      logHourly(
        'dropped',
        'warn',
        `Metrics buffer: dropped ${pruned.expired} points older than 14 days and ${pruned.overflow} over the cap of ${maxBufferedPoints} (totals since start: ${dropped.expired} expired, ${dropped.overflow} over the cap)`,
      );
    }

    let sent = 0;
    let failure: Classification | undefined;
    for (const group of splitIntoRequests(pending, vehicleId, namespace)) {
      try {
        const signal = AbortSignal.any([AbortSignal.timeout(requestTimeoutMs), cutoff.signal]);
        await putPoints(client, { namespace, vehicleId, points: group }, signal);
      } catch (error) {
        const outcome = handleSendError(error, group);
        failure = outcome.classification;
        if (outcome.dropped) {
          changed = true;
          continue; // the service refused this request itself; the next one may be fine
        }
        break;
      }
      pending = pending.slice(group.length);
      sent += group.length;
      sentPoints += group.length;
      headFailures = 0;
      changed = true;
      lastPublishAt = clock.now();
      if (offline) {
        offline = false;
        logger.info(
          `CloudWatch accepts metrics again; sending ${pending.length + group.length} buffered points`,
        );
      }
    }

    if (bufferFile !== undefined && changed && (pending.length > 0 || fileHasPoints)) {
      try {
        await saveBuffer(bufferFile, pending);
        fileHasPoints = pending.length > 0;
      } catch (error) {
        const { message } = noteError('buffer-io', error);
        logger.warn(`Could not write the metrics buffer ${bufferFile}: ${message}`);
      }
    }
    const result: PublishResult = { sent, buffered: pending.length };
    if (failure !== undefined) result.error = failure;
    return result;
  }

  /**
   * Decides what a failed request means for its points. Everything that says "not now" (network, service,
   * credentials, permissions) keeps them: an operator can fix IAM within the two weeks CloudWatch accepts.
   * Only a request the service refuses as such is dropped, after the retry budget for unrecognised errors.
   */
  function handleSendError(
    error: unknown,
    group: readonly MetricPoint[],
  ): { classification: Classification; dropped: boolean } {
    const classification = noteError('publish-failed', error);
    const droppable =
      classification.category !== 'aborted' &&
      (classification.scope === 'file' || classification.category === 'unknown');
    if (droppable && decide(error, headFailures, { now: clock.now() }).action === 'give-up') {
      const refused = new Set(group);
      pending = pending.filter((point) => !refused.has(point));
      dropped.rejected += group.length;
      headFailures = 0;
      logger.error(
        `CloudWatch refused ${group.length} metric points; dropped them (${classification.message})`,
      );
      return { classification, dropped: true };
    }
    if (droppable) headFailures += 1;
    if (classification.kind === 'permanent') {
      offline = true;
      logHourly(
        `permanent:${classification.category}`,
        'error',
        `CloudWatch PutMetricData failed permanently (${classification.category}): ${classification.message}; keeping ${pending.length} metric points buffered`,
      );
    } else if (!offline) {
      offline = true;
      logger.warn(
        `CloudWatch unreachable (${classification.category}): ${classification.message}; buffering metric points`,
      );
    }
    return { classification, dropped: false };
  }

  function enqueue<T>(task: () => Promise<T>): Promise<T> {
    const next = running.then(task, task);
    running = next.catch(() => undefined);
    return next;
  }

  async function runLoop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const now = clock.now();
      try {
        await clock.sleep(aggregator.bucketStart(now) + intervalMs - now, signal);
      } catch {
        return;
      }
      await enqueue(() => publish(false)).catch((error: unknown) => {
        logger.error(`Metrics publisher failed: ${String(error)}`);
      });
    }
  }

  function requireNumber(name: string, value: number, max = Number.POSITIVE_INFINITY): void {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > max) {
      invalidOption(name, max === 100 ? 'a number from 0 to 100' : 'a non-negative number', value);
    }
  }

  return {
    fileUploaded(bytes) {
      requireNumber('bytes', bytes);
      count('FileCount');
      count('BytesUploaded', bytes);
    },
    uploadFailed(category) {
      count('FailureCount');
      failuresByCategory[category] = (failuresByCategory[category] ?? 0) + 1;
    },
    retryScheduled() {
      count('RetryCount');
    },
    permanentFailure(category) {
      count('PermanentFailureCount');
      permanentFailuresByCategory[category] = (permanentFailuresByCategory[category] ?? 0) + 1;
    },
    diskUsage(percent, mount = '') {
      requireNumber('percent', percent, 100);
      disk[mount] = gauge('DiskUsagePercent', percent);
    },
    queueDepth(n) {
      requireNumber('n', n);
      queue = gauge('QueueDepth', n);
    },
    oldestPendingAge(seconds) {
      requireNumber('seconds', seconds);
      oldest = gauge('OldestPendingAgeSeconds', seconds);
    },
    uploadsPaused(value) {
      paused = gauge('UploadsPaused', value ? 1 : 0);
    },
    serviceStartup() {
      count('ServiceStartup');
    },
    fileDeletedUnsent() {
      count('DeletedUnsentFiles');
    },

    start() {
      if (loop !== undefined) return;
      loop = new AbortController();
      runLoop(loop.signal).catch((error: unknown) =>
        logger.error(`Metrics publisher stopped: ${String(error)}`),
      );
    },
    async stop() {
      loop ??= new AbortController();
      loop.abort();
      const deadline = setTimeout(() => cutoff.abort(), stopTimeoutMs);
      deadline.unref();
      try {
        await enqueue(() => publish(true));
      } catch (error) {
        logger.error(`Metrics final flush failed: ${String(error)}`);
      } finally {
        clearTimeout(deadline);
      }
    },
    publishNow() {
      return enqueue(() => publish(true)).catch((error: unknown): PublishResult => {
        const classification = classify(error);
        return { sent: 0, buffered: pending.length, error: classification };
      });
    },
    async idle() {
      await running;
    },
    snapshot,
    prometheus() {
      return renderPrometheus(snapshot());
    },
  };

  function snapshot(): MetricsSnapshot {
    return {
      vehicleId,
      namespace,
      publishing: client !== undefined,
      counters: { ...counters },
      failuresByCategory: { ...failuresByCategory },
      permanentFailuresByCategory: { ...permanentFailuresByCategory },
      gauges: {
        DiskUsagePercent: Object.fromEntries(Object.entries(disk).map(([k, v]) => [k, { ...v }])),
        QueueDepth: queue === null ? null : { ...queue },
        OldestPendingAgeSeconds: oldest === null ? null : { ...oldest },
        UploadsPaused: paused === null ? null : { ...paused },
      },
      lastPublishAt,
      lastAttemptAt,
      sentPoints,
      bufferedPoints: pending.length,
      dropped: { ...dropped },
      lastError: lastError === null ? null : { ...lastError },
    };
  }
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) invalidOption(name, 'a positive integer', value);
  return value;
}
