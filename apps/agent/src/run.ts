import { createAgent, type Agent } from './agent.js';
import { loadConfig, type LoadedConfig } from './config.js';
import { AgentError } from './errors.js';
import type { AgentLogger } from './logger.js';

/** What `tvm-upload run` needs. */
export interface RunOptions {
  configPath: string;
  loaded: LoadedConfig;
  logger: AgentLogger;
}

// systemd's default TimeoutStopSec is 90 s, but the issue promises 10 s; leave a margin for the event loop.
const STOP_DEADLINE_MS = 9_000;

/**
 * Runs the daemon in the foreground until SIGTERM/SIGINT; resolves to the exit code. SIGHUP reloads the config:
 * the new file is validated first, and an invalid one is rejected with its problems while the running config stays.
 */
export async function runAgent(options: RunOptions): Promise<number> {
  const { configPath, logger } = options;
  for (const warning of options.loaded.warnings) logger.warn(`Config: ${warning}`);
  let config = options.loaded.config;
  // Library timers are unref'd, so nothing else keeps the event loop alive, not even while the state store waits
  // to write during start-up: this handle is the daemon's life.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  let agent: Agent | undefined;
  let reloading: Promise<void> = Promise.resolve();
  let starting: Promise<unknown> = Promise.resolve();
  let stopping = false;
  let requestStop: (signal: string) => void = () => undefined;
  const done = new Promise<number>((resolve) => {
    requestStop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info(`${signal}: stopping (no new uploads; in-flight multipart state is kept)`);
      const deadline = setTimeout(() => {
        logger.warn(`Stopping took over ${STOP_DEADLINE_MS / 1000}s; exiting with the state flushed so far`);
        resolve(0);
      }, STOP_DEADLINE_MS);
      deadline.unref();
      void starting
        .catch(() => undefined)
        .then(() => reloading)
        .then(() => agent?.stop())
        .then(
          () => {
            logger.info('Stopped');
            resolve(0);
          },
          (error: unknown) => {
            logger.error(`Stopping failed: ${(error as Error).message}`);
            resolve(1);
          },
        )
        .finally(() => clearTimeout(deadline));
    };
  });
  // Installed before start-up, so a SIGTERM while the state opens still stops cleanly (and releases the lock).
  process.on('SIGTERM', () => requestStop('SIGTERM'));
  process.on('SIGINT', () => requestStop('SIGINT'));

  const reload = async (): Promise<void> => {
    logger.info(`SIGHUP: reloading the configuration from ${configPath}`);
    let next: LoadedConfig;
    try {
      next = await loadConfig(configPath);
    } catch (error) {
      if (error instanceof AgentError) {
        logger.error(`Configuration reload rejected; the running configuration stays. ${error.message}:`);
        for (const problem of error.problems) logger.error(`  ${problem}`);
      } else {
        logger.error(
          `Configuration reload failed; the running configuration stays: ${(error as Error).message}`,
        );
      }
      return;
    }
    for (const warning of next.warnings) logger.warn(`Config: ${warning}`);
    if (stopping || !agent) return;
    // The whole agent restarts in-process with the new config: every key takes effect, in-flight multipart uploads
    // resume from their saved parts, and a destination pause is lifted (the new agent checks afresh).
    await agent.stop();
    try {
      agent = await createAgent({ config: next.config, logger });
      config = next.config;
      logger.info('Configuration reloaded');
    } catch (error) {
      logger.error(
        `Starting with the new configuration failed (${(error as Error).message}); keeping the old one`,
      );
      agent = await createAgent({ config, logger });
    }
  };
  process.on('SIGHUP', () => {
    if (stopping) return;
    reloading = reloading.then(reload, reload);
  });

  const start = createAgent({ config, logger });
  starting = start;
  try {
    agent = await start;
  } catch (error) {
    clearInterval(keepAlive);
    if (error instanceof AgentError) {
      logger.error(error.message);
      return 1;
    }
    throw error;
  }
  const code = await done;
  clearInterval(keepAlive);
  // Sockets of the SDK's keep-alive agents may linger; the state is flushed and the lock released.
  setTimeout(() => process.exit(code), 100).unref();
  return code;
}
