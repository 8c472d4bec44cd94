import { join } from 'node:path';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { createDiskGuard, type PolicyName } from '@tvm/disk-guard';
import { openStateStore, QueueError, type QueueEntry, type StateStore } from '@tvm/durable-queue';
import { createMetrics, type Metrics } from '@tvm/metrics';
import type { TokenBucket } from '@tvm/s3-uploader';
import { createCloudWatchClient, createDestination, type Destination } from './adapters/destination.js';
import { watchCredentials } from './credentials-watch.js';
import { Destinations } from './destinations.js';
import { BandwidthController } from './bandwidth/controller.js';
import { fileSystemProbe, uploaderObjectStore } from './adapters/pipeline-ports.js';
import { systemClock, type Clock } from './clock.js';
import { statePaths, type AgentConfig } from './config.js';
import { writeAgentStatus } from './commands/agent-status.js';
import { createDetector, type Detector } from './detector.js';
import { alreadyKnown, intake, retryFailedAtStartup } from './intake.js';
import { inBackground } from './background.js';
import { AgentError } from './errors.js';
import { abortAbandonedUploads } from './abandoned-uploads.js';
import { checkProfile } from './adapters/aws-clients.js';
import { diskGuardOptions } from './disk-guard-options.js';
import { Housekeeping } from './housekeeping.js';
import { IncidentUploads } from './incident/uploads.js';
import type { AgentLogger } from './logger.js';
import { LogDirectories } from './log-directories.js';
import { buildObjectKey, dateIn } from './object-key.js';
import { ManifestJournal, publishEndedDays, recordingDeliveries, recordUnsent } from './manifests/index.js';
import { setUpCompression } from './compression/setup.js';
import { sampleGauges } from './monitoring/view.js';
import { laneOf, type Lane } from './lanes.js';
import { meteredLinks, type MeteredLinks, type MeteredLinksOptions } from './links/agent-links.js';
import { Pipeline, type RetryPolicy } from './pipeline/index.js';
import { reloadPlan, type ReloadPlan } from './reload-plan.js';
import { Scheduler } from './scheduler.js';
import { VERSION } from './version.js';

const DAY_MS = 86_400_000;
/** How often ended days without a manifest in S3 are looked for. */
const MANIFEST_CHECK_MS = 10 * 60_000;

/** Options of {@link createAgent}; everything but `config` and `logger` has a production default. */
export interface AgentOptions {
  config: AgentConfig;
  logger: AgentLogger;
  /** @default systemClock */
  clock?: Clock;
  /** Builds the S3 side (tests point it at a local server), paced by the agent's bucket. @default createDestination */
  destination?: (config: AgentConfig, clock: Clock, bandwidth: TokenBucket) => Destination;
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
  /** Where the metered-link admission reads routes and names (tests give fixture tables). @default the kernel's */
  links?: Pick<MeteredLinksOptions, 'readTables' | 'resolve' | 'checkEveryMs'>;
}

/** The running daemon, minus the process: start, stop, and what tests and status need to see. */
export interface Agent {
  readonly store: StateStore;
  readonly pipeline: Pipeline;
  readonly detector: Detector;
  readonly metrics: Metrics;
  /** `tvm-upload upload`'s requests (the control channel's `/v1/uploads`). */
  readonly incident: IncidentUploads;
  /** The lane a queued file goes in (`incident`, `high`, `normal`, `low`). */
  laneOf(entry: QueueEntry): Lane;
  /** The one bandwidth limit: config, timetable and `tvm-upload bandwidth`. */
  readonly bandwidth: BandwidthController;
  /** Rebuilds the S3 client (credentials changed) and lifts a destination pause if the destination now works. */
  refreshDestination(reason: string): Promise<void>;
  /**
   * Applies a reloaded config without a restart when every changed key can be applied live (schedule, hours,
   * retry, order, bandwidth, time zone, deletion, disk: see `LIVE_KEYS`); uploads in flight go on. Returns what
   * changed: when `restart` is not empty nothing was applied, and the caller restarts the agent with `next`.
   */
  reconfigure(next: AgentConfig): Promise<ReloadPlan>;
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

  // A missing named profile is a configuration error, found before the state (and its lock) is taken.
  checkProfile(config);
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

  // Every part below reads the config through `current`, so a live reload reaches it without a restart.
  let current = config;
  const bandwidth = new BandwidthController(
    clock,
    logger,
    current.upload.bandwidth_limit,
    current.upload.timezone,
  );
  const makeDestination = options.destination ?? createDestination;
  const destinations = new Destinations(
    (c, k) => makeDestination(c, k, bandwidth.bucket),
    current,
    clock,
    logger,
  );
  const metrics = createMetrics({
    client: 'cloudWatch' in options ? options.cloudWatch : await createCloudWatchClient(current),
    vehicleId: current.vehicle_id,
    clock,
    publishIntervalMs: current.monitoring.publish_interval_seconds * 1000,
    bufferFile: join(paths.stateDir, 'metrics-buffer.json'),
    logger,
  });
  metrics.serviceStartup();
  metrics.start(); // never awaited: no network at boot must not stop the service (defect 15)

  // Files are named by the resolved directory (the detector watches real paths); legacy entries by either form.
  const directories = new LogDirectories(current.log_directories);
  const compression = await setUpCompression({
    config: () => current,
    stateDir: paths.stateDir,
    directories,
    queued: () => store.queue.list(),
    logger,
  });

  // Each day's uploads and unsent deletions, durable here until the day's manifest is in S3 (manifests/).
  const manifests = new ManifestJournal({
    directory: join(paths.stateDir, 'manifests'),
    dateOf: (ms) => dateIn(ms, current.upload.timezone),
    onWriteError: (error) =>
      logger.warn(`Recording a delivery manifest line failed (kept in memory): ${error.message}`),
  });

  const makeHousekeeping = (c: AgentConfig): Housekeeping => {
    const guard = createDiskGuard({ ...diskGuardOptions(c), clock, logger });
    const enabled: Record<PolicyName, boolean> = {
      'after-upload': c.deletion.after_upload.enabled,
      'age-based': c.deletion.age_based.enabled,
      emergency: c.deletion.emergency.enabled,
    };
    return new Housekeeping(guard, store, metrics, logger, enabled, c.log_directories, (files) =>
      recordUnsent(manifests, clock, files),
    );
  };
  let housekeeping = makeHousekeeping(current);

  // The lane of a queued file, under the running config (a reload may change the rules).
  const laneOfEntry = (entry: QueueEntry): Lane =>
    laneOf(
      entry,
      { priority_rules: current.upload.priority_rules, log_directories: current.log_directories },
      () => {
        const placement = directories.locate(entry.filepath, undefined);
        return placement.ok ? placement.source : undefined;
      },
    );
  // upload.networks: the metered-link admission (absent = none); it wakes the pipeline when its verdict may change.
  const links: MeteredLinks | undefined = await meteredLinks(current, () => current, {
    stateDir: paths.stateDir,
    clock,
    logger,
    wake: () => {
      pipeline.pump();
      inBackground(publishStatus(), logger, 'Writing agent-status.json');
    },
    ...options.links,
  });

  const pipeline = new Pipeline({
    ...(links ? { admission: links.admission } : {}),
    store,
    objects: () =>
      recordingDeliveries(
        uploaderObjectStore(destinations.current.uploader, () => current, compression),
        manifests,
        clock,
      ),
    files: fileSystemProbe,
    bucket: current.s3.bucket,
    clock,
    logger,
    metrics,
    concurrency: current.s3.concurrency,
    order: current.upload.order,
    retry: retryPolicy(current),
    keyFor: (home, filepath, mtimeMs) =>
      buildObjectKey({
        vehicleId: current.vehicle_id,
        source: home.source,
        directory: home.root,
        filePath: filepath,
        mtimeMs,
        timeZone: current.upload.timezone,
      }),
    locate: (filepath, source) => directories.locate(filepath, source),
    lane: laneOfEntry,
    ...(options.maxProbeDelayMs === undefined ? {} : { maxProbeDelayMs: options.maxProbeDelayMs }),
    ...(options.destinationRecheckMs === undefined
      ? {}
      : { destinationRecheckMs: options.destinationRecheckMs }),
    // After every upload that drains the due work (a run, or files sent at once with batch_upload off).
    onDrained: async () => {
      inBackground(publishStatus(), logger, 'Writing agent-status.json');
      await housekeeping.run(['after-upload'], 'after upload');
      await housekeeping.checkDisk('after upload');
    },
    onPauseChange: () => {
      metrics.uploadsPaused(pipeline.paused !== undefined);
      inBackground(publishStatus(), logger, 'Writing agent-status.json');
    },
  });

  const incident = new IncidentUploads({ store, pipeline, clock, logger, config: () => current });

  const onReady = intake({ store, pipeline, metrics, clock, logger, config: () => current });

  const maxAgeMs = () => current.upload.scan_existing_files.max_age_days * DAY_MS;
  const detector = createDetector({
    directories: current.log_directories,
    stableMs: current.upload.file_stable_seconds * 1000,
    scanSince: () => (current.upload.scan_existing_files.enabled ? clock.now() - maxAgeMs() : startedAt),
    clock,
    logger,
    known: (file) => alreadyKnown(store, file),
    skipPath: (path) => store.queue.has(path),
    onReady,
    ...(options.reconcileIntervalMs === undefined
      ? {}
      : { reconcileIntervalMs: options.reconcileIntervalMs }),
    ...(options.watch === undefined ? {} : { watch: options.watch }),
  });

  const loops = new AbortController();
  const every = (ms: number, task: () => Promise<void>): void => {
    const loop = async (): Promise<void> => {
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
    };
    inBackground(loop(), logger, 'A periodic task');
  };

  every(options.diskCheckMs ?? 60_000, () => housekeeping.checkDisk('periodic check'));
  every(options.requestPollMs ?? 5_000, async () => {
    const result = await store.pollRequests();
    if (result.requeued > 0) pipeline.startRun(`${result.requeued} file(s) requeued`);
    await housekeeping.applyRequests(); // files `tvm-upload cleanup` deleted before upload leave the state
  });
  // Multipart uploads no entry will ever resume (a queue lost, an entry edited away) are billed until aborted.
  const abortAbandoned = async (): Promise<void> => {
    const referencedUploadIds = new Set<string>();
    for (const entry of [...store.queue.list(), ...store.failed.list()]) {
      if (entry.multipart) referencedUploadIds.add(entry.multipart.uploadId);
    }
    await abortAbandonedUploads({
      uploader: destinations.current.uploader,
      vehicleId: current.vehicle_id,
      referencedUploadIds,
      olderThanMs: current.upload.abandoned_upload_age_hours * 3_600_000,
      logger,
      signal: loops.signal,
    });
  };
  every(DAY_MS, abortAbandoned);
  // At least once a minute, so every publish interval has its samples (the UploadsPaused alarm reads their Minimum).
  every(Math.min(60_000, current.monitoring.publish_interval_seconds * 1000), async () => {
    sampleGauges({ store, pipeline }, metrics, clock.now());
  });

  // The manifest of each ended day goes to S3 soon after midnight (and after an outage, once S3 answers again);
  // local journals are kept two weeks after their manifest is in S3.
  const publishManifests = async (): Promise<void> => {
    const now = clock.now();
    const { written, failed } = await publishEndedDays({
      s3: destinations.current.client,
      bucket: current.s3.bucket,
      vehicleId: current.vehicle_id,
      journal: manifests,
      today: dateIn(now, current.upload.timezone),
      keepFrom: dateIn(now - 14 * DAY_MS, current.upload.timezone),
      now: () => clock.now(),
      signal: loops.signal,
    });
    for (const manifest of written) {
      logger.info(
        `Delivery manifest ${manifest.date} written: s3://${current.s3.bucket}/${manifest.key} (${manifest.lines} line(s))`,
      );
    }
    for (const { date, error } of failed) {
      logger.warn(`Delivery manifest ${date} not written yet (tried again in 10 minutes): ${error.message}`);
    }
  };
  every(MANIFEST_CHECK_MS, publishManifests);

  let scheduler: Scheduler | undefined = undefined; // set once the start-up scan has begun
  // What only the daemon knows, for `tvm-upload status` (best effort: it never stops the daemon).
  const publishStatus = async (): Promise<void> => {
    const paused = pipeline.paused;
    const nextRunAt = scheduler?.nextRunAt;
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
      ...(links ? { network: links.admission.report() } : {}),
      ...(store.writeProblem
        ? { stateWriteProblem: { error: store.writeProblem.error, since: store.writeProblem.since } }
        : {}),
    }).catch(() => undefined);
  };
  every(10_000, publishStatus);

  // A changed credentials file may fix a destination error: rebuild the client (static credentials are cached).
  const refreshDestination = async (reason: string): Promise<void> => {
    destinations.rebuild(current);
    await pipeline.recheckDestination(reason);
  };
  const credentialsWatch = watchCredentials(current.s3.credentials_path, clock, logger, () =>
    refreshDestination('AWS credentials changed'),
  );

  logger.info(
    `tvm-upload started: vehicle ${current.vehicle_id}, bucket ${current.s3.bucket}, ${current.log_directories.length} director${current.log_directories.length === 1 ? 'y' : 'ies'}, ${store.queue.size} queued, ${store.failed.size} failed`,
  );
  if (current.upload.scan_existing_files.enabled) await retryFailedAtStartup(store, current, clock, logger);
  const { startupScan } = await detector.start({ startupScan: current.upload.scan_existing_files.enabled });
  scheduler = await Scheduler.start(
    {
      clock,
      logger,
      recordFile: paths.scheduleFile,
      jobs: {
        uploadRun: (reason) => pipeline.startRun(reason),
        ageBasedCleanup: (reason) => housekeeping.run(['age-based'], reason),
      },
      ...(options.schedulerTickMs === undefined ? {} : { tickMs: options.schedulerTickMs }),
    },
    current,
  );
  links?.admission.start();
  pipeline.pump(); // retries already scheduled in the queue go at their time
  incident.resume(); // incident-lane files queued before a restart go now, whatever the hours
  // The start-up run covers what the scan queues, even outside operational hours; the watcher runs meanwhile.
  if (current.upload.upload_on_start) {
    inBackground(
      startupScan.then(() => pipeline.startRun('upload_on_start')),
      logger,
      'The upload_on_start run',
    );
  }
  inBackground(housekeeping.checkDisk('start-up'), logger, 'The start-up disk check');
  inBackground(abortAbandoned(), logger, 'Aborting abandoned multipart uploads');
  inBackground(publishStatus(), logger, 'Writing agent-status.json');
  inBackground(publishManifests(), logger, 'Writing the delivery manifests of ended days');

  let stopping: Promise<void> | undefined;
  return {
    store,
    pipeline,
    detector,
    metrics,
    incident,
    laneOf: laneOfEntry,
    bandwidth,
    refreshDestination,
    async reconfigure(next) {
      const plan = reloadPlan(current, next);
      if (plan.restart.length > 0 || plan.live.length === 0) return plan;
      current = next;
      pipeline.setRetryPolicy(retryPolicy(next));
      pipeline.setOrder(next.upload.order);
      if (plan.live.some((key) => key.startsWith('deletion') || key.startsWith('disk'))) {
        housekeeping = makeHousekeeping(next);
      }
      if (plan.live.some((key) => key === 'upload.bandwidth_limit' || key === 'upload.timezone')) {
        bandwidth.configure(next.upload.bandwidth_limit, next.upload.timezone);
      }
      scheduler?.configure(next);
      logger.info(`Configuration applied live: ${plan.live.join(', ')}`);
      inBackground(publishStatus(), logger, 'Writing agent-status.json');
      return plan;
    },
    stop() {
      stopping ??= (async () => {
        loops.abort();
        incident.close();
        bandwidth.close();
        scheduler?.stop();
        credentialsWatch.close();
        await detector.close();
        links?.admission.stop();
        await pipeline.stop();
        await manifests.flush();
        await links?.budget.flush();
        await store.close();
        await metrics.stop();
        destinations.close();
      })();
      return stopping;
    },
  };
}

function retryPolicy(config: AgentConfig): RetryPolicy {
  return {
    maxRetries: config.upload.retry.max_retries,
    initialDelayMs: config.upload.retry.initial_delay_seconds * 1000,
    maxDelayMs: config.upload.retry.max_delay_seconds * 1000,
  };
}
