import {
  DirectoryFilter,
  resolveDirectory,
  scanDirectoryInBatches,
  statFile,
  type FoundFile,
  type WatchedDirectory,
} from './adapters/files.js';
import { watchTree, type TreeWatcher } from './adapters/tree-watcher.js';
import { inBackground } from './background.js';
import type { Clock } from './clock.js';
import type { AgentLogger } from './logger.js';
import { StabilityTracker } from './stability.js';

/** A finished file, ready to be queued. */
export interface ReadyFile extends FoundFile {
  directory: WatchedDirectory;
}

/** A scan hands ready files to `onReady` in batches of at most this many. */
const SCAN_BATCH = 1000;

/** Options of {@link createDetector}. */
export interface DetectorOptions {
  directories: readonly WatchedDirectory[];
  /** `file_stable_seconds` in ms. */
  stableMs: number;
  /**
   * Scans (start-up and reconcile) consider files modified at or after this time (epoch ms): `now - max_age_days`,
   * or the agent's start when `scan_existing_files` is off.
   */
  scanSince: () => number;
  clock: Clock;
  logger: AgentLogger;
  /** Why a file needs no upload (queued, uploaded, failed unchanged), or undefined when it does. */
  known: (file: FoundFile) => string | undefined;
  /** True for a path that needs no look at all (queued already): scans do not even stat it. @default none */
  skipPath?: (path: string) => boolean;
  /** Receives finished files, in batches. */
  onReady: (files: ReadyFile[]) => Promise<void>;
  /** How often the directories are re-scanned because watch events get lost. @default 60000 */
  reconcileIntervalMs?: number;
  /** How often candidate files are re-checked. @default stableMs / 4, between 100 ms and 5 s */
  tickMs?: number;
  /** Watch the directories (tests of the scan alone turn it off). @default true */
  watch?: boolean;
}

/** Finds finished files: watch events, a start-up scan and a periodic reconcile scan, through a stability check. */
export interface Detector {
  /**
   * Starts watching; with `startupScan`, queues existing files in the background (never blocks the watcher).
   * Resolves once the watches are set, with the start-up scan's completion (it never rejects).
   */
  start(options: { startupScan: boolean }): Promise<{ startupScan: Promise<void> }>;
  /** One scan of every directory now; resolves when its files were examined (not when they become stable). */
  scan(reason: string): Promise<void>;
  /** Re-checks candidate files now (the periodic tick does this by itself). */
  check(): Promise<void>;
  /** Files waiting to become stable. */
  readonly pending: number;
  close(): Promise<void>;
}

/** Creates the detector. */
export function createDetector(options: DetectorOptions): Detector {
  const { clock, logger } = options;
  const tracker = new StabilityTracker(options.stableMs);
  const tickMs = options.tickMs ?? Math.min(5_000, Math.max(100, options.stableMs / 4));
  const reconcileMs = options.reconcileIntervalMs ?? 60_000;
  const controller = new AbortController();
  const filters = new Map<string, DirectoryFilter>(); // by configured path, once resolved
  const watchers: TreeWatcher[] = [];
  const directoryOf = new Map<string, DirectoryFilter>(); // candidate path -> its directory
  let ticking = false;
  let checking: Promise<void> | undefined;
  let closed = false;

  async function resolveAll(): Promise<void> {
    for (const directory of options.directories) {
      if (filters.has(directory.path)) continue;
      const root = await resolveDirectory(directory.path);
      if (root === undefined) {
        logger.debug(
          `Log directory ${directory.path} (${directory.source}) does not exist yet; looking again later`,
        );
        continue;
      }
      const filter = new DirectoryFilter(directory, root);
      filters.set(directory.path, filter);
      if (options.watch !== false && !closed) await startWatcher(filter);
    }
  }

  async function startWatcher(filter: DirectoryFilter): Promise<void> {
    const watcher = await watchTree(filter, {
      // A rename into place (logrotate's syslog -> syslog.1) arrives as an event for the new name.
      file: (path) => {
        if (!filter.accepts(path)) return;
        // An event handler has nobody to reject to: a failure here must be logged, never an unhandled rejection.
        consider(path, filter, 'watch').catch((error: unknown) =>
          logger.error(`Handling a change of ${path} failed: ${(error as Error).message}`),
        );
      },
      gone: (path) => {
        tracker.forget(path);
        directoryOf.delete(path);
      },
      error: (message) =>
        logger.warn(`Watching ${filter.root}: ${message} (the reconcile scan still finds its files)`),
    });
    if (closed) watcher.close();
    else watchers.push(watcher);
  }

  async function consider(path: string, filter: DirectoryFilter, why: string): Promise<void> {
    if (closed || tracker.has(path)) return;
    const file = await statFile(path);
    if (!file) return;
    const reason = options.known(file);
    if (reason !== undefined) {
      if (why === 'watch') logger.debug(`Ignoring ${path}: ${reason}`);
      return;
    }
    directoryOf.set(path, filter);
    const verdict = tracker.observe(path, file, clock.now());
    if (verdict === 'ready') {
      directoryOf.delete(path);
      await options.onReady([{ ...file, directory: filter.directory }]);
    } else {
      logger.debug(`Waiting for ${path} to stay unchanged for ${options.stableMs / 1000}s (found by ${why})`);
      ensureTicking();
    }
  }

  function ensureTicking(): void {
    if (ticking || closed) return;
    ticking = true;
    const tick = async (): Promise<void> => {
      try {
        while (!closed && tracker.size > 0) {
          await clock.sleep(tickMs, controller.signal);
          await check();
        }
      } catch {
        // Aborted by close().
      } finally {
        ticking = false;
      }
    };
    inBackground(tick(), logger, 'The stability check');
  }

  function check(): Promise<void> {
    checking ??= (async () => {
      try {
        const ready: ReadyFile[] = [];
        for (const path of [...tracker.paths()]) {
          const filter = directoryOf.get(path);
          const file = await statFile(path);
          if (!filter || !file) {
            tracker.forget(path);
            directoryOf.delete(path);
            continue;
          }
          if (tracker.observe(path, file, clock.now()) === 'ready') {
            directoryOf.delete(path);
            if (options.known(file) === undefined) ready.push({ ...file, directory: filter.directory });
          }
        }
        if (ready.length > 0) await options.onReady(ready);
      } finally {
        checking = undefined;
      }
    })();
    return checking;
  }

  async function scan(reason: string): Promise<void> {
    await resolveAll();
    const since = options.scanSince();
    const ready: ReadyFile[] = [];
    let found = 0;
    let queued = 0;
    for (const filter of filters.values()) {
      // Files come as they are stat'ed, so a scan of 100,000 never holds them all besides their queue entries.
      const batches = scanDirectoryInBatches(
        filter,
        since,
        (path) => tracker.has(path) || (options.skipPath?.(path) ?? false),
      );
      for (;;) {
        let files: IteratorResult<FoundFile[]>;
        try {
          files = await batches.next();
        } catch (error) {
          logger.warn(`Scanning ${filter.root} failed: ${(error as Error).message}`);
          break;
        }
        if (files.done) break;
        for (const file of files.value) {
          if (closed) return;
          if (tracker.has(file.path)) continue;
          if (options.known(file) !== undefined) continue;
          found++;
          directoryOf.set(file.path, filter);
          if (tracker.observe(file.path, file, clock.now()) === 'ready') {
            directoryOf.delete(file.path);
            ready.push({ ...file, directory: filter.directory });
            // Handed over in bounded batches: a scan of 100,000 files never holds them all twice.
            if (ready.length >= SCAN_BATCH) {
              queued += ready.length;
              await options.onReady(ready.splice(0));
            }
          }
        }
      }
    }
    queued += ready.length;
    if (found > 0) logger.info(`${reason}: found ${found} new file(s), ${queued} ready to queue`);
    else logger.debug(`${reason}: nothing new`);
    if (ready.length > 0) await options.onReady(ready);
    if (tracker.size > 0) ensureTicking();
  }

  async function reconcileLoop(): Promise<void> {
    try {
      for (;;) {
        await clock.sleep(reconcileMs, controller.signal);
        await scan('Reconcile scan').catch((error: unknown) =>
          logger.warn(`Reconcile scan failed: ${(error as Error).message}`),
        );
      }
    } catch {
      // Aborted by close().
    }
  }

  return {
    async start({ startupScan }) {
      await resolveAll();
      for (const directory of options.directories) {
        if (!filters.has(directory.path)) {
          logger.warn(
            `Log directory ${directory.path} (${directory.source}) does not exist; looking for it at each reconcile scan`,
          );
        }
      }
      const scanned = startupScan
        ? scan('Startup scan').catch((error: unknown) =>
            logger.warn(`Startup scan failed: ${(error as Error).message}`),
          )
        : Promise.resolve();
      inBackground(reconcileLoop(), logger, 'The reconcile scan');
      return { startupScan: scanned };
    },
    scan,
    check,
    get pending() {
      return tracker.size;
    },
    async close() {
      closed = true;
      controller.abort();
      for (const watcher of watchers.splice(0)) watcher.close();
      await checking;
    },
  };
}
