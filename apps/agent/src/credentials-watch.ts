import { watch } from 'node:fs';
import type { Clock } from './clock.js';
import { inBackground } from './background.js';
import type { AgentLogger } from './logger.js';

/** How long a burst of changes (an editor's several writes) must be over before it counts as one change. */
export const CREDENTIALS_SETTLE_MS = 500;

/**
 * Watches the AWS shared-files directory (`s3.credentials_path`) and calls `onChange` once per burst of changes,
 * when the burst is over. A directory that does not exist is not watched (a reload or restart picks up credentials
 * then), which is logged at debug. The wait goes through `clock`.
 */
export function watchCredentials(
  directory: string,
  clock: Clock,
  logger: AgentLogger,
  onChange: () => Promise<void>,
): { close(): void } {
  let burst: AbortController | undefined;
  const changed = (): void => {
    burst?.abort();
    const current = new AbortController();
    burst = current;
    inBackground(
      clock.sleep(CREDENTIALS_SETTLE_MS, current.signal).then(
        () => onChange(),
        () => undefined, // a later change restarted the wait
      ),
      logger,
      'Rebuilding the S3 client after a credentials change',
    );
  };
  try {
    const watcher = watch(directory, { persistent: false }, changed);
    watcher.on('error', () => undefined);
    return {
      close() {
        burst?.abort();
        watcher.close();
      },
    };
  } catch {
    logger.debug(`Not watching ${directory} (missing); credentials changes need a reload`);
    return { close: () => burst?.abort() };
  }
}
