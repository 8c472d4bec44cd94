import { randomUUID } from 'node:crypto';
import { lstat } from 'node:fs/promises';
import { sameVersion, type StateStore } from '@tvm/durable-queue';
import {
  DirectoryFilter,
  resolveDirectory,
  scanDirectory,
  statFile,
  type WatchedDirectory,
} from '../adapters/files.js';
import { inBackground } from '../background.js';
import type { Clock } from '../clock.js';
import type { AgentConfig } from '../config.js';
import { encodeFileName } from '../file-names.js';
import type { AgentLogger } from '../logger.js';
import type { Pipeline } from '../pipeline/index.js';
import { StabilityTracker } from '../stability.js';
import type { IncidentWindow } from './time.js';
import { selectWindow, type ListedFile } from './window.js';

/** The lane `tvm-upload upload` puts its files in: the persisted queue entry field `priority` (see lanes.ts). */
export const INCIDENT_PRIORITY = 'incident';

/** What happened to a file when the request was made. */
export type IncidentIntake =
  /** Newly queued in the incident lane. */
  | 'queued'
  /** Queued already: moved to the incident lane. */
  | 'promoted'
  /** On the failed list in this version: back in the queue, in the incident lane, for a new attempt. */
  | 'requeued'
  /** Uploaded before in this version (the processed registry): not sent again. */
  | 'already-uploaded'
  /** Still being written: queued once it stays unchanged for `file_stable_seconds`. */
  | 'waiting';

/** Where a file of a request is now. */
export type IncidentFileState =
  | 'waiting'
  | 'queued'
  | 'uploaded'
  | 'already-uploaded'
  | 'failed'
  /** It left the queue without an upload record (deleted, or changed and queued under another version). */
  | 'missing';

/** One file of a request, as `GET /v1/uploads/:id` reports it. */
export interface IncidentFileView {
  path: string;
  source: string;
  size: number;
  mtimeMs: number;
  intake: IncidentIntake;
  state: IncidentFileState;
  /** The object key, once in S3. */
  key?: string;
  /** Failed attempts so far (queued), or before giving up (failed). */
  attempts?: number;
  /** The last error of a queued file, or why a failed one was given up. */
  error?: { category: string; message: string };
}

/** A request, as the control channel answers it. */
export interface IncidentRequestView {
  id: string;
  createdAt: number;
  since: number;
  until: number;
  /** The sources asked for; all configured ones when none were named. */
  sources: string[];
  /** `done`: every file is in S3; `failed`: every file is settled and one is not in S3; else `in-progress`. */
  state: 'in-progress' | 'done' | 'failed';
  counts: Record<IncidentFileState, number>;
  files: IncidentFileView[];
}

interface RequestFile {
  file: ListedFile;
  intake: IncidentIntake;
  /** The registry record found at intake (already uploaded). */
  key?: string;
}

interface IncidentRequest {
  id: string;
  createdAt: number;
  window: IncidentWindow;
  sources: string[];
  files: RequestFile[];
}

/** A request the daemon refuses (an unknown source): the control route answers it with 400. */
export class IncidentRequestError extends Error {
  override readonly name = 'IncidentRequestError';
}

/** Options of {@link IncidentUploads}. */
export interface IncidentUploadsOptions {
  store: StateStore;
  pipeline: Pick<Pipeline, 'uploadNow'>;
  clock: Clock;
  logger: AgentLogger;
  /** The config in force (log directories, `file_stable_seconds`). */
  config: () => AgentConfig;
  /** How often files still being written are looked at again. @default stableMs / 4, between 100 ms and 5 s */
  tickMs?: number;
  /** How many finished requests are remembered for `GET /v1/uploads/:id`. @default 100 */
  keep?: number;
}

/**
 * `tvm-upload upload`'s daemon side: finds the files of a time window in the log directories, queues them in the
 * `incident` lane (queue entry field `priority: 'incident'`) and starts them at once through
 * `Pipeline.uploadNow()`, whatever the operational hours say and however old they are (`max_age_days` limits only
 * the scans). Files still being written wait for the same stability rule as the detector's. Requests live in the
 * daemon's memory; their queue entries are persisted, so after a restart {@link resume} starts them again.
 */
export class IncidentUploads {
  readonly #o: IncidentUploadsOptions;
  readonly #requests = new Map<string, IncidentRequest>();
  readonly #waiting = new Map<string, ListedFile>();
  readonly #stop = new AbortController();
  #tracker: StabilityTracker;
  #ticking = false;

  constructor(options: IncidentUploadsOptions) {
    this.#o = options;
    this.#tracker = new StabilityTracker(options.config().upload.file_stable_seconds * 1000);
  }

  /** Starts the incident-lane entries a previous run left queued (they do not wait for operational hours). */
  resume(): void {
    const paths = this.#o.store.queue
      .list()
      .filter((entry) => entry.priority === INCIDENT_PRIORITY)
      .map((entry) => entry.filepath);
    if (paths.length === 0) return;
    this.#o.logger.info(`Resuming ${paths.length} incident upload(s) queued before the restart`);
    this.#o.pipeline.uploadNow(paths);
  }

  /**
   * Queues every file of `window` under the log directories (only `sources`, when given).
   * @throws IncidentRequestError naming the configured sources when one of `sources` is not configured.
   */
  async create(window: IncidentWindow, sources: readonly string[] = []): Promise<IncidentRequestView> {
    const directories = this.#o.config().log_directories;
    const configured = directories.map((d) => d.source);
    const unknown = sources.filter((s) => !configured.includes(s));
    if (unknown.length > 0) {
      throw new IncidentRequestError(
        `Unknown source${unknown.length > 1 ? 's' : ''} ${unknown.map((s) => JSON.stringify(s)).join(', ')}; the configured sources are ${configured.join(', ')}`,
      );
    }
    const wanted = sources.length > 0 ? directories.filter((d) => sources.includes(d.source)) : directories;
    const listed = await listFiles(wanted, window.since);
    const files = selectWindow(listed, window);
    const request: IncidentRequest = {
      id: randomUUID().slice(0, 8),
      createdAt: this.#o.clock.now(),
      window,
      sources: wanted.map((d) => d.source),
      files: [],
    };
    const now = this.#o.clock.now();
    const start: string[] = [];
    for (const file of files) {
      const done = this.#o.store.registry.get({ ...file, filepath: file.path });
      if (done) {
        request.files.push({ file, intake: 'already-uploaded', ...(done.key ? { key: done.key } : {}) });
        continue;
      }
      if (this.#tracker.observe(file.path, file, now) === 'waiting') {
        this.#waiting.set(file.path, file);
        request.files.push({ file, intake: 'waiting' });
        continue;
      }
      request.files.push({ file, intake: this.#enqueue(file, now) });
      start.push(file.path);
    }
    this.#remember(request);
    const counts = countBy(request.files.map((f) => f.intake));
    this.#o.logger.info(
      `Incident upload ${request.id}: ${files.length} file(s) modified in ${new Date(window.since).toISOString()} .. ${new Date(window.until).toISOString()} (${request.sources.join(', ')}): ${Object.entries(
        counts,
      )
        .map(([intake, n]) => `${n} ${intake}`)
        .join(', ')}`,
    );
    if (start.length > 0) this.#o.pipeline.uploadNow(start);
    if (this.#waiting.size > 0) this.#ensureTicking();
    return this.#view(request);
  }

  /** The request `id` as it stands now, or undefined when this daemon never made it (or forgot it). */
  get(id: string): IncidentRequestView | undefined {
    const request = this.#requests.get(id);
    return request ? this.#view(request) : undefined;
  }

  /** Stops looking at files still being written. */
  close(): void {
    this.#stop.abort();
  }

  /** Puts a stable file in the incident lane; says how. Queue writes follow in the background, as intake's do. */
  #enqueue(file: ListedFile, now: number): IncidentIntake {
    const { store, logger } = this.#o;
    const path = file.path;
    const lane = { priority: INCIDENT_PRIORITY };
    if (store.queue.has(path)) {
      inBackground(store.queue.update(path, lane), logger, `Moving ${path} to the incident lane`);
      return 'promoted';
    }
    const failed = store.failed.get(path);
    if (failed && sameVersion(failed, file)) {
      // Both change memory at once; the writes follow.
      inBackground(store.failed.requeue(path), logger, `Re-queueing ${path}`);
      inBackground(store.queue.update(path, lane), logger, `Moving ${path} to the incident lane`);
      return 'requeued';
    }
    inBackground(
      store.queue.add({
        filepath: path,
        size: file.size,
        mtimeMs: file.mtimeMs,
        source: file.source,
        detectedAt: now,
        ...lane,
      }),
      logger,
      `Queueing ${path}`,
    );
    return 'queued';
  }

  #remember(request: IncidentRequest): void {
    this.#requests.set(request.id, request);
    const keep = this.#o.keep ?? 100;
    for (const id of this.#requests.keys()) {
      if (this.#requests.size <= keep) break;
      this.#requests.delete(id);
    }
  }

  #ensureTicking(): void {
    if (this.#ticking || this.#stop.signal.aborted) return;
    this.#ticking = true;
    const stableMs = this.#tracker.stableMs;
    const tickMs = this.#o.tickMs ?? Math.min(5_000, Math.max(100, stableMs / 4));
    const loop = async (): Promise<void> => {
      try {
        while (this.#waiting.size > 0) {
          await this.#o.clock.sleep(tickMs, this.#stop.signal);
          await this.#check();
        }
      } catch {
        // Aborted by close().
      } finally {
        this.#ticking = false;
      }
    };
    inBackground(loop(), this.#o.logger, 'The incident uploads stability check');
  }

  /** Files still being written: those unchanged for `file_stable_seconds` now go. */
  async #check(): Promise<void> {
    const start: string[] = [];
    for (const [path, listed] of [...this.#waiting]) {
      const found = await statFile(path);
      const now = this.#o.clock.now();
      const verdict = this.#tracker.observe(path, found, now);
      if (verdict === 'waiting') continue;
      this.#waiting.delete(path);
      if (!found) continue; // gone: its requests report it missing
      const file: ListedFile = { ...listed, ...found };
      for (const request of this.#requests.values()) {
        for (const entry of request.files)
          if (entry.file.path === path && entry.intake === 'waiting') entry.file = file;
      }
      if (this.#o.store.registry.has({ ...file, filepath: path })) continue;
      this.#enqueue(file, now);
      start.push(path);
    }
    if (start.length > 0) {
      this.#o.logger.info(`Incident upload: ${start.length} file(s) finished being written, uploading now`);
      this.#o.pipeline.uploadNow(start);
    }
  }

  #view(request: IncidentRequest): IncidentRequestView {
    const files = request.files.map((entry) => this.#fileView(request, entry));
    const counts = {
      waiting: 0,
      queued: 0,
      uploaded: 0,
      'already-uploaded': 0,
      failed: 0,
      missing: 0,
    } satisfies Record<IncidentFileState, number>;
    for (const file of files) counts[file.state]++;
    const inS3 = counts.uploaded + counts['already-uploaded'];
    const settled = inS3 + counts.failed + counts.missing;
    return {
      id: request.id,
      createdAt: request.createdAt,
      since: request.window.since,
      until: request.window.until,
      sources: request.sources,
      state: inS3 === files.length ? 'done' : settled === files.length ? 'failed' : 'in-progress',
      counts,
      files,
    };
  }

  #fileView(request: IncidentRequest, entry: RequestFile): IncidentFileView {
    const { store } = this.#o;
    const { file } = entry;
    const base = {
      path: file.path,
      source: file.source,
      size: file.size,
      mtimeMs: file.mtimeMs,
      intake: entry.intake,
    };
    if (entry.intake === 'already-uploaded') {
      return { ...base, state: 'already-uploaded', ...(entry.key ? { key: entry.key } : {}) };
    }
    if (this.#waiting.has(file.path)) return { ...base, state: 'waiting' };
    const queued = store.queue.get(file.path);
    if (queued) {
      return {
        ...base,
        state: 'queued',
        attempts: queued.attempts,
        ...(queued.lastError
          ? { error: { category: queued.lastError.category, message: queued.lastError.message } }
          : {}),
      };
    }
    const failed = store.failed.get(file.path);
    if (failed && failed.failedAt >= request.createdAt) {
      return {
        ...base,
        state: 'failed',
        attempts: failed.attempts,
        error: { category: failed.category, message: failed.message },
      };
    }
    // The version queued, else any upload of this path since the request (the file changed before its upload).
    const record =
      store.registry.get({ ...file, filepath: file.path }) ??
      store.registry.list().find((r) => r.filepath === file.path && r.uploadedAt >= request.createdAt);
    if (record) return { ...base, state: 'uploaded', ...(record.key ? { key: record.key } : {}) };
    return { ...base, state: 'missing' };
  }
}

/**
 * Every file of `directories` (the detector's filter: pattern, recursion, no hidden files, no symlinks), with the
 * birth time of those modified since `since` (the window judges them by it).
 */
async function listFiles(directories: readonly WatchedDirectory[], since: number): Promise<ListedFile[]> {
  const listed: ListedFile[] = [];
  for (const directory of directories) {
    const root = await resolveDirectory(directory.path);
    if (root === undefined) continue;
    for (const file of await scanDirectory(new DirectoryFilter(directory, root), -Infinity)) {
      const birthtimeMs =
        file.mtimeMs >= since
          ? await lstat(encodeFileName(file.path)).then(
              (s) => s.birthtimeMs,
              () => undefined,
            )
          : undefined;
      listed.push({
        ...file,
        source: directory.source,
        ...(birthtimeMs === undefined ? {} : { birthtimeMs }),
      });
    }
  }
  return listed;
}

function countBy(values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}
