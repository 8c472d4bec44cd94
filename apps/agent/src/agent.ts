import { realpathSync, watch as watchFs, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { createDiskGuard, type PolicyName } from '@tvm/disk-guard';
import { openStateStore, QueueError, type StateStore } from '@tvm/durable-queue';
import { createMetrics, type Metrics } from '@tvm/metrics';
import { resolveDirectory, type FoundFile } from './adapters/files.js';
import { createCloudWatchClient, createDestination, type Destination } from './adapters/destination.js';
import { readScheduleRecord, writeScheduleRecord, type ScheduleRecord } from './adapters/schedule-file.js';
import { systemClock, type Clock } from './clock.js';
import { statePaths, type AgentConfig } from './config.js';
import { writeAgentStatus } from './commands/agent-status.js';
import { createDetector, type Detector, type ReadyFile } from './detector.js';
import { AgentError } from './errors.js';
import { diskGuardOptions } from './disk-guard-options.js';
import { Housekeeping } from './housekeeping.js';
import type { AgentLogger } from './logger.js';
import { buildObjectKey } from './object-key.js';
import { Pipeline, type FileHome } from './pipeline.js';
import { dailyDue, insideOperationalHours } from './schedule.js';
import { VERSION } from './version.js';

const DAY_MS = 86_400_000;

/** Options of {@link createAgent}; everything but `config` and `logger` has a production default. */
export interface AgentOptions {
  config: AgentConfig;
  logger: AgentLogger;
  /** @default systemClock */
  clock?: Clock;
  /** Builds the S3 side (tests point it at a local server). @default createDestination */
  destination?: (config: AgentConfig, clock: Clock) => Destination;
  /** @default a client when monitoring.cloudwatch_enabled */
  cloudWatch?: CloudWatchClient | undefined;
  /** @default 60000 */
  reconcileIntervalMs?: number;
  /** Longest wait between two probes of an unreachable destination. @default 300000 */
  maxProbeDelayMs?: number;
  /** How often a paused destination is re-checked. @default 300000 */
  destinationRecheckMs?: number;
  /** How often the scheduler looks at the clock (daily jobs). @default 30000 */
  schedulerTickMs?: number;
  /** How often the disk is measured for the emergency policy. @default 60000 */
  diskCheckMs?: number;
  /** How often requeue requests from ops commands are applied. @default 5000 */
  requestPollMs?: number;
  /**
   * How long the state store gathers changes before a write. Each write rewrites whole files, so a busy run must not
   * write queue.json and the registry once per uploaded file. The store waits on `clock`: tests with a fake clock
   * pass 0. @default 250
   */
  commitDelayMs?: number;
  /** Watch directories with inotify (tests of scans alone turn it off). @default true */
  watch?: boolean;
}

/** The running daemon, minus the process: start, stop, and what tests and status need to see. */
export interface Agent {
  readonly store: StateStore;
  readonly pipeline: Pipeline;
  readonly detector: Detector;
  readonly metrics: Metrics;
  /** Rebuilds the S3 client (credentials changed) and lifts a destination pause if the destination now works. */
  refreshDestination(reason: string): Promise<void>;
  /** Stops starting uploads, cancels those in flight (multipart state kept), flushes the state, releases the lock. */
  stop(): Promise<void>;
}

/**
 * Starts the agent: opens the state directory (taking its lock), then the metrics, the pipeline, the detector and
 * the schedules. Resolves once everything runs; the start-up scan continues in the background.
 * @throws {AgentError} `already-running` when another process holds the state directory (naming its pid),
 *   `state-unreadable` when the state cannot be opened.
 */
export async function createAgent(options: AgentOptions): Promise<Agent> {
  const { config, logger } = options;
  const clock = options.clock ?? systemClock;
  const paths = statePaths(config);
  const startedAt = clock.now();

  let store: StateStore;
  try {
    store = await openStateStore({
      queueFile: paths.queueFile,
      failedFile: paths.failedFile,
      registryFile: paths.registryFile,
      clock,
      logger,
      registryRetentionDays: config.upload.processed_files_registry.retention_days,
      commitDelayMs: options.commitDelayMs ?? 250,
    });
  } catch (error) {
    if (error instanceof QueueError && error.code === 'LOCKED') {
      throw new AgentError('already-running', `tvm-upload is already running: ${error.message}`, {
        cause: error,
      });
    }
    throw new AgentError(
      'state-unreadable',
      `Cannot open the state in ${paths.stateDir}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }

  const makeDestination = options.destination ?? createDestination;
  let destination = makeDestination(config, clock);
  const metrics = createMetrics({
    client: 'cloudWatch' in options ? options.cloudWatch : createCloudWatchClient(config),
    vehicleId: config.vehicle_id,
    clock,
    publishIntervalMs: config.monitoring.publish_interval_seconds * 1000,
    bufferFile: join(paths.stateDir, 'metrics-buffer.json'),
    logger,
  });
  metrics.serviceStartup();
  metrics.start(); // never awaited: no network at boot must not stop the service (defect 15)

  // Files are named by the resolved directory (the detector watches real paths); legacy entries by either form.
  const homes: Array<FileHome & { configured: string }> = [];
  for (const dir of config.log_directories) {
    homes.push({
      source: dir.source,
      root: (await resolveDirectory(dir.path)) ?? dir.path,
      configured: dir.path,
    });
  }
  const find = (filepath: string, source: string | undefined): FileHome | undefined => {
    const inside = (root: string) => filepath.startsWith(root.endsWith('/') ? root : `${root}/`);
    const matches = homes.filter((h) => inside(h.root) || inside(h.configured));
    const chosen =
      matches.find((h) => h.source === source) ?? matches.sort((a, b) => b.root.length - a.root.length)[0];
    if (!chosen) return undefined;
    return { source: chosen.source, root: inside(chosen.root) ? chosen.root : chosen.configured };
  };
  const locate = (filepath: string, source: string | undefined): FileHome | undefined => {
    const found = find(filepath, source);
    if (found) return found;
    // A directory missing at start (or re-pointed symlink) may resolve differently now; rare, so a sync lookup.
    for (const home of homes) {
      try {
        home.root = realpathSync(home.configured);
      } catch {
        // Still missing.
      }
    }
    return find(filepath, source);
  };

  const guard = createDiskGuard({ ...diskGuardOptions(config), clock, logger });
  const enabled: Record<PolicyName, boolean> = {
    'after-upload': config.deletion.after_upload.enabled,
    'age-based': config.deletion.age_based.enabled,
    emergency: config.deletion.emergency.enabled,
  };
  const housekeeping = new Housekeeping(guard, store, metrics, logger, enabled, config.log_directories);

  const pipeline = new Pipeline({
    store,
    uploader: () => destination.uploader,
    bucket: config.s3.bucket,
    clock,
    logger,
    metrics,
    concurrency: config.s3.concurrency,
    order: config.upload.order,
    retry: {
      maxRetries: config.upload.retry.max_retries,
      initialDelayMs: config.upload.retry.initial_delay_seconds * 1000,
      maxDelayMs: config.upload.retry.max_delay_seconds * 1000,
    },
    keyFor: (home, filepath, mtimeMs) =>
      buildObjectKey({
        vehicleId: config.vehicle_id,
        source: home.source,
        directory: home.root,
        filePath: filepath,
        mtimeMs,
        timeZone: config.upload.timezone,
      }),
    locate,
    ...(options.maxProbeDelayMs === undefined ? {} : { maxProbeDelayMs: options.maxProbeDelayMs }),
    ...(options.destinationRecheckMs === undefined
      ? {}
      : { destinationRecheckMs: options.destinationRecheckMs }),
    onRunEnd: async () => {
      void publishStatus();
      await housekeeping.run(['after-upload'], 'after upload');
      await housekeeping.checkDisk('after upload');
    },
    onPauseChange: () => void publishStatus(),
  });

  const known = (file: FoundFile): string | undefined => {
    if (store.queue.has(file.path)) return 'already queued';
    if (
      store.registry.has({
        filepath: file.path,
        size: file.size,
        mtimeMs: file.mtimeMs,
        dev: file.dev,
        ino: file.ino,
      })
    ) {
      return 'already uploaded (same size and mtime in the registry)';
    }
    const failed = store.failed.get(file.path);
    if (
      failed &&
      failed.size === file.size &&
      failed.mtimeMs !== undefined &&
      Math.abs(failed.mtimeMs - file.mtimeMs) < 1
    ) {
      return 'in the failed list, unchanged since (touch it or requeue it to try again)';
    }
    return undefined;
  };

  const onReady = async (files: ReadyFile[]): Promise<void> => {
    const now = clock.now();
    const added: string[] = [];
    await Promise.all(
      files.map(async (file) => {
        // A failed file that changed (touched, rewritten) is eligible again: it leaves the failed list.
        if (store.failed.has(file.path)) await store.failed.remove(file.path);
        const fresh = await store.queue.add({
          filepath: file.path,
          size: file.size,
          mtimeMs: file.mtimeMs,
          source: file.directory.source,
          detectedAt: now,
        });
        if (fresh) added.push(file.path);
      }),
    );
    if (added.length === 0) return;
    if (added.length <= 20) for (const path of added) logger.info(`Queued ${path}`);
    else logger.info(`Queued ${added.length} files`);
    metrics.queueDepth(store.queue.size);
    const hours = config.upload.operational_hours;
    if (insideOperationalHours(now, hours, config.upload.timezone)) {
      if (config.upload.batch_upload.enabled) pipeline.startRun('new file ready');
      else pipeline.uploadNow(added);
    } else {
      logger.debug(
        `${added.length} file(s) queued outside operational hours (${hours.start}-${hours.end}); they wait for the next scheduled run`,
      );
    }
  };

  const maxAgeMs = config.upload.scan_existing_files.max_age_days * DAY_MS;
  const detector = createDetector({
    directories: config.log_directories,
    stableMs: config.upload.file_stable_seconds * 1000,
    scanSince: () => (config.upload.scan_existing_files.enabled ? clock.now() - maxAgeMs : startedAt),
    clock,
    logger,
    known,
    skipPath: (path) => store.queue.has(path),
    onReady,
    ...(options.reconcileIntervalMs === undefined
      ? {}
      : { reconcileIntervalMs: options.reconcileIntervalMs }),
    ...(options.watch === undefined ? {} : { watch: options.watch }),
  });

  const loops = new AbortController();
  const every = (ms: number, task: () => Promise<void>): void => {
    void (async () => {
      for (;;) {
        try {
          await clock.sleep(ms, loops.signal);
        } catch {
          return;
        }
        await task().catch((error: unknown) =>
          logger.error(`Periodic task failed: ${(error as Error).message}`),
        );
      }
    })();
  };

  // Scheduled runs.
  let record: ScheduleRecord = await readScheduleRecord(paths.scheduleFile);
  const remember = async (patch: ScheduleRecord): Promise<void> => {
    record = { ...record, ...patch };
    await writeScheduleRecord(paths.scheduleFile, record).catch((error: unknown) =>
      logger.warn(`Cannot write ${paths.scheduleFile}: ${(error as Error).message}`),
    );
  };
  const tz = config.upload.timezone;
  const schedule = config.upload.schedule;
  const dailyJobs = async (): Promise<void> => {
    const now = clock.now();
    if (schedule.mode === 'daily') {
      const due = dailyDue(now, schedule.daily_time, tz, record.daily_upload);
      if (due.due) {
        await remember({ daily_upload: due.occurrence });
        pipeline.startRun(`daily upload at ${schedule.daily_time} (${due.occurrence})`);
      }
    }
    if (config.deletion.age_based.enabled) {
      const due = dailyDue(now, config.deletion.age_based.schedule_time, tz, record.age_based_cleanup);
      if (due.due) {
        await remember({ age_based_cleanup: due.occurrence });
        await housekeeping.run(['age-based'], `daily at ${config.deletion.age_based.schedule_time}`);
      }
    }
  };
  let nextRunAt: number | undefined;
  if (schedule.mode === 'interval') {
    const intervalMs = (schedule.interval_hours * 60 + schedule.interval_minutes) * 60_000;
    nextRunAt = startedAt + intervalMs;
    every(intervalMs, async () => {
      nextRunAt = clock.now() + intervalMs;
      pipeline.startRun(`scheduled every ${schedule.interval_hours} h ${schedule.interval_minutes} min`);
    });
  }
  every(options.schedulerTickMs ?? 30_000, dailyJobs);
  every(options.diskCheckMs ?? 60_000, () => housekeeping.checkDisk('periodic check'));
  every(options.requestPollMs ?? 5_000, async () => {
    const result = await store.pollRequests();
    if (result.requeued > 0) pipeline.startRun(`${result.requeued} file(s) requeued`);
  });
  every(config.monitoring.publish_interval_seconds * 1000, async () => {
    metrics.queueDepth(store.queue.size);
    let oldest = Infinity;
    for (const entry of store.queue.list()) oldest = Math.min(oldest, entry.detectedAt);
    if (oldest !== Infinity) metrics.oldestPendingAge(Math.max(0, (clock.now() - oldest) / 1000));
  });

  // What only the daemon knows, for `tvm-upload status` (best effort: it never stops the daemon).
  const publishStatus = async (): Promise<void> => {
    const paused = pipeline.paused;
    await writeAgentStatus(paths.stateDir, {
      pid: process.pid,
      version: VERSION,
      startedAt,
      updatedAt: clock.now(),
      destination:
        paused === undefined
          ? { state: 'online' }
          : {
              state: paused.kind === 'outage' ? 'paused-outage' : 'paused-destination',
              reason: paused.message,
              since: paused.since,
            },
      ...(nextRunAt === undefined ? {} : { nextRunAt }),
      ...(pipeline.lastUpload ? { lastUpload: pipeline.lastUpload } : {}),
      metricsBuffered: metrics.snapshot().bufferedPoints,
    }).catch(() => undefined);
  };
  every(10_000, publishStatus);

  // A changed credentials file may fix a destination error: rebuild the client (static credentials are cached).
  let credentialsWatcher: FSWatcher | undefined;
  const retired = new Set<Destination>();
  let credentialsTimer: NodeJS.Timeout | undefined;
  const refreshDestination = async (reason: string): Promise<void> => {
    const old = destination;
    destination = makeDestination(config, clock);
    // Uploads in flight finish on the old client; closing it now would cut them off mid-request.
    retired.add(old);
    setTimeout(() => {
      retired.delete(old);
      old.close();
    }, 600_000).unref();
    await pipeline.recheckDestination(reason);
  };
  try {
    credentialsWatcher = watchFs(config.s3.credentials_path, { persistent: false }, () => {
      // Editors write in several steps: act once the burst is over.
      clearTimeout(credentialsTimer);
      credentialsTimer = setTimeout(() => void refreshDestination('AWS credentials changed'), 500);
      credentialsTimer.unref();
    });
    credentialsWatcher.on('error', () => undefined);
  } catch {
    logger.debug(`Not watching ${config.s3.credentials_path} (missing); credentials changes need a reload`);
  }

  logger.info(
    `tvm-upload started: vehicle ${config.vehicle_id}, bucket ${config.s3.bucket}, ${config.log_directories.length} director${config.log_directories.length === 1 ? 'y' : 'ies'}, ${store.queue.size} queued, ${store.failed.size} failed`,
  );
  const { startupScan } = await detector.start({ startupScan: config.upload.scan_existing_files.enabled });
  await dailyJobs();
  pipeline.pump(); // retries already scheduled in the queue go at their time
  // The start-up run covers what the scan queues, even outside operational hours; the watcher runs meanwhile.
  if (config.upload.upload_on_start) void startupScan.then(() => pipeline.startRun('upload_on_start'));
  void housekeeping.checkDisk('start-up');
  void publishStatus();

  let stopping: Promise<void> | undefined;
  return {
    store,
    pipeline,
    detector,
    metrics,
    refreshDestination,
    stop() {
      stopping ??= (async () => {
        loops.abort();
        credentialsWatcher?.close();
        clearTimeout(credentialsTimer);
        await detector.close();
        await pipeline.stop();
        await store.close();
        await metrics.stop();
        for (const d of [...retired, destination]) d.close();
      })();
      return stopping;
    },
  };
}
