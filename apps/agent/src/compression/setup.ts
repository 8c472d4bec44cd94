import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { QueueEntry } from '@tvm/durable-queue';
import { multipartThresholdBytes, type AgentConfig } from '../config.js';
import type { LogDirectories } from '../log-directories.js';
import type { AgentLogger } from '../logger.js';
import { Spool, SPOOL_DIRECTORY } from './spool.js';
import type { CompressionOptions } from './uploader.js';

/** What {@link setUpCompression} needs from the agent. */
export interface CompressionSetup {
  /** The config in force (read at each upload). */
  config: () => AgentConfig;
  stateDir: string;
  directories: Pick<LogDirectories, 'locate'>;
  queued: () => Iterable<Pick<QueueEntry, 'filepath' | 'source'>>;
  logger: AgentLogger;
}

/**
 * At start-up: opens the spool in `<state>/spool/` and removes what no queued file needs (see `Spool.sweep`), and
 * returns the options of the compressing uploader; `undefined` when no log directory compresses (a spool left by an
 * earlier config is removed) or the spool cannot be made (logged: files are then sent uncompressed).
 */
export async function setUpCompression(setup: CompressionSetup): Promise<CompressionOptions | undefined> {
  const { logger, directories } = setup;
  const directory = join(setup.stateDir, SPOOL_DIRECTORY);
  if (setup.config().log_directories.every((d) => d.compress === 'none')) {
    await rm(directory, { recursive: true, force: true }).catch(() => undefined);
    return undefined;
  }
  let spool: Spool;
  try {
    spool = await Spool.open(directory, {
      reserveBytes: setup.config().disk.reserved_gb * 2 ** 30,
      // Below the multipart threshold a spool file goes in one request: nothing to resume, no marker to sync.
      resumableFromBytes: multipartThresholdBytes(setup.config()),
    });
    // Spool files are named by the path the upload opens: a queued path's resolved form, and the path as queued.
    const paths = new Set<string>();
    for (const entry of setup.queued()) {
      paths.add(entry.filepath);
      const placed = directories.locate(entry.filepath, entry.source);
      if (placed.ok) paths.add(placed.path);
    }
    const swept = await spool.sweep((path) => paths.has(path));
    if (swept.kept + swept.removed > 0) {
      logger.info(
        `Compression spool ${spool.directory}: ${swept.kept} file(s) (${swept.keptBytes} bytes) kept for queued uploads, ${swept.removed} removed`,
      );
    }
  } catch (error) {
    logger.warn(
      `Cannot use the compression spool ${directory} (${(error as Error).message}): files are sent uncompressed`,
    );
    return undefined;
  }
  return {
    spool,
    logger,
    settingFor: (filePath) => {
      const placed = directories.locate(filePath, undefined);
      if (!placed.ok) return 'none';
      return setup.config().log_directories.find((d) => d.source === placed.source)?.compress ?? 'none';
    },
  };
}
