import { stat } from 'node:fs/promises';
import { sameVersion, type StateStore } from '@tvm/durable-queue';
import type { Metrics } from '@tvm/metrics';
import type { FoundFile } from './adapters/files.js';
import { inBackground } from './background.js';
import type { Clock } from './clock.js';
import type { AgentConfig } from './config.js';
import type { ReadyFile } from './detector.js';
import { encodeFileName } from './file-names.js';
import type { AgentLogger } from './logger.js';
import type { Pipeline } from './pipeline/index.js';
import { insideOperationalHours } from './schedule.js';

const DAY_MS = 86_400_000;

/**
 * Why a file the detector found needs no queueing (queued, uploaded in this version, failed in this version), or
 * undefined when it is new. One identity decides: durable-queue's `sameVersion`.
 */
export function alreadyKnown(store: StateStore, file: FoundFile): string | undefined {
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
  if (failed && sameVersion(failed, file)) {
    return 'in the failed list, unchanged since (touch it or requeue it to try again)';
  }
  return undefined;
}

/** What {@link intake} feeds. */
export interface IntakeOptions {
  store: StateStore;
  pipeline: Pick<Pipeline, 'startRun' | 'uploadNow'>;
  metrics: Pick<Metrics, 'queueDepth'>;
  clock: Clock;
  logger: AgentLogger;
  /** The config in force (a live reload changes the hours and the batch mode). */
  config: () => AgentConfig;
}

/**
 * Queues ready files and starts their upload: a whole run in batch mode, only them otherwise; outside operational
 * hours they wait for the next scheduled run.
 */
export function intake({
  store,
  pipeline,
  metrics,
  clock,
  logger,
  config,
}: IntakeOptions): (files: ReadyFile[]) => Promise<void> {
  // The pipeline hears of new files once per turn of the event loop: a start-up scan hands over batch after batch
  // without yielding, and each word to the pipeline sorts the whole queue again (a 100,000-file scan: 100 sorts
  // of up to 100,000 entries, seconds of CPU and their garbage, for uploads that cannot start before it ends).
  let told: { run: boolean; paths: string[] } | undefined;
  const tell = (run: boolean, paths: readonly string[]): void => {
    if (told) {
      told.run ||= run;
      for (const path of paths) told.paths.push(path);
      return;
    }
    told = { run, paths: [...paths] };
    setImmediate(() => {
      const now = told;
      told = undefined;
      if (now?.run) pipeline.startRun('new file ready');
      if (now && now.paths.length > 0) pipeline.uploadNow(now.paths);
    });
  };
  // Ready files from the watcher, the reconcile scan and the start-up scan. The queue changes in memory at once and
  // its write follows: on a full state disk the write waits in the store (retried) while the file is uploaded
  // all the same. Never rejects.
  return (files: ReadyFile[]): Promise<void> => {
    const now = clock.now();
    const fresh = new Set<string>();
    for (const file of files) if (!store.queue.has(file.path)) fresh.add(file.path);
    // One write and one promise per batch, not per file (a start-up scan hands over thousands at once). Memory
    // changes at once; a failed file that changed (touched, rewritten) is eligible again: the add takes it off
    // the list.
    inBackground(
      store.queue.addAll(
        files.map((file) => ({
          filepath: file.path,
          size: file.size,
          mtimeMs: file.mtimeMs,
          source: file.directory.source,
          detectedAt: now,
        })),
      ),
      logger,
      files.length === 1 ? `Queueing ${files[0]?.path}` : `Queueing ${files.length} files`,
    );
    const added = [...fresh].filter((path) => store.queue.has(path));
    if (added.length === 0) return Promise.resolve();
    if (added.length <= 20) for (const path of added) logger.info(`Queued ${path}`);
    else logger.info(`Queued ${added.length} files`);
    metrics.queueDepth(store.queue.size);
    const { operational_hours: hours, timezone, batch_upload } = config().upload;
    if (insideOperationalHours(now, hours, timezone)) {
      if (batch_upload.enabled) tell(true, []);
      else tell(false, added);
    } else {
      logger.debug(
        `${added.length} file(s) queued outside operational hours (${hours.start}-${hours.end}); they wait for the next scheduled run`,
      );
    }
    return Promise.resolve();
  };
}

/**
 * The runbook's "Option 1: wait for next startup scan (if file < 3 days old)": at start-up, failed files still on
 * disk and modified within `scan_existing_files.max_age_days` go back to the queue for ONE new attempt each (their
 * retry budget is spent but for one), so a file that fails again returns to the failed list at once.
 */
export async function retryFailedAtStartup(
  store: StateStore,
  config: AgentConfig,
  clock: Clock,
  logger: AgentLogger,
): Promise<void> {
  const since = clock.now() - config.upload.scan_existing_files.max_age_days * DAY_MS;
  const requeued: string[] = [];
  for (const entry of store.failed.list()) {
    const mtimeMs = await stat(encodeFileName(entry.filepath)).then(
      (s) => s.mtimeMs,
      () => undefined,
    );
    if (mtimeMs === undefined || mtimeMs < since || !store.failed.has(entry.filepath)) continue;
    // Both change memory at once; the writes follow (a full state disk must not hold the start-up).
    inBackground(store.failed.requeue(entry.filepath), logger, `Re-queueing ${entry.filepath}`);
    inBackground(
      store.queue.update(entry.filepath, { attempts: config.upload.retry.max_retries }),
      logger,
      `Re-queueing ${entry.filepath}`,
    );
    requeued.push(entry.filepath);
  }
  if (requeued.length === 0) return;
  logger.info(
    `Startup scan: re-queued ${requeued.length} file(s) from the failed list for one new attempt each: ${requeued.slice(0, 10).join(', ')}${requeued.length > 10 ? ', ...' : ''}`,
  );
}
