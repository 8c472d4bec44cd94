import { rename, writeFile } from 'node:fs/promises';
import { checkProfile } from './adapters/aws-clients.js';
import { inBackground } from './background.js';
import { createAgent, type Agent } from './agent.js';
import { reloadResultPath, type ReloadResult } from './commands/reload.js';
import { loadConfig, type AgentConfig, type LoadedConfig } from './config.js';
import { ControlServer, controlSocketPath } from './control/index.js';
import { registerDaemonRoutes } from './control/routes.js';
import { AgentError } from './errors.js';
import { HealthMonitor } from './health.js';
import { LANES } from './lanes.js';
import type { AgentLogger } from './logger.js';
import { startMonitoring, type MonitoringServer } from './monitoring/index.js';
import { createNotifier, type Notifier } from './notify.js';

/** What `tvm-upload run` needs. */
export interface RunOptions {
  configPath: string;
  loaded: LoadedConfig;
  logger: AgentLogger;
  /** @default createNotifier() (systemd-notify when NOTIFY_SOCKET is set) */
  notifier?: Notifier;
  /** Wall clock (ms). @default Date.now */
  now?: () => number;
}

/** How often the status line is refreshed when systemd asks for no watchdog. */
const STATUS_INTERVAL_MS = 10_000;

/**
 * Applies a validated config to the running agent and resolves to the agent that now runs. Today the agent restarts
 * in-process with it (every key takes effect, in-flight multipart uploads resume from their saved parts).
 */
async function applyConfig(
  current: Agent,
  next: AgentConfig,
  logger: AgentLogger,
): Promise<{ agent: Agent; restarted: boolean }> {
  // What a running agent can apply (schedule, hours, bandwidth, deletion ...) goes live: uploads in flight go on.
  const plan = await current.reconfigure(next);
  if (plan.restart.length === 0) return { agent: current, restarted: false };
  logger.info(
    `Restarting the agent in-process for the new configuration (${plan.restart.join(', ')} changed)`,
  );
  await current.stop();
  return { agent: await createAgent({ config: next, logger }), restarted: true };
}

// systemd's default TimeoutStopSec is 90 s, but the issue promises 10 s; leave a margin for the event loop.
const STOP_DEADLINE_MS = 9_000;

/**
 * Runs the daemon in the foreground until SIGTERM/SIGINT; resolves to the exit code. SIGHUP reloads the config:
 * the new file is validated first, and an invalid one is rejected with its problems while the running config stays.
 */
export async function runAgent(options: RunOptions): Promise<number> {
  const { configPath, logger } = options;
  const now = options.now ?? Date.now;
  const notifier = options.notifier ?? createNotifier({ logger });
  for (const warning of options.loaded.warnings) logger.warn(`Config: ${warning}`);
  let config = options.loaded.config;
  let reloads = 0;
  const answerReload = async (
    ok: boolean,
    message: string,
    problems: readonly string[] = [],
  ): Promise<void> => {
    const result: ReloadResult = {
      pid: process.pid,
      seq: ++reloads,
      at: new Date(now()).toISOString(),
      ok,
      message,
      problems: [...problems],
    };
    const file = reloadResultPath(config);
    try {
      await writeFile(`${file}.tmp`, `${JSON.stringify(result)}\n`);
      await rename(`${file}.tmp`, file);
    } catch (error) {
      logger.warn(`Could not write ${file} (tvm-upload reload waits for it): ${(error as Error).message}`);
    }
  };
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
      inBackground(notifier.send({ STOPPING: '1', STATUS: 'stopping' }), logger, 'Notifying systemd');
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
    await notifier.send({ RELOADING: '1', STATUS: 'reloading the configuration' });
    let next: LoadedConfig;
    try {
      next = await loadConfig(configPath);
    } catch (error) {
      if (error instanceof AgentError) {
        logger.error(`Configuration reload rejected; the running configuration stays. ${error.message}:`);
        for (const problem of error.problems) logger.error(`  ${problem}`);
        await answerReload(false, `rejected: ${error.message}`, error.problems);
      } else {
        const message = (error as Error).message;
        logger.error(`Configuration reload failed; the running configuration stays: ${message}`);
        await answerReload(false, `failed: ${message}`);
      }
      await notifier.send({ READY: '1', STATUS: currentStatus() });
      return;
    }
    for (const warning of next.warnings) logger.warn(`Config: ${warning}`);
    if (stopping || !agent) {
      await answerReload(false, 'the agent is stopping');
      return;
    }
    try {
      // A config error only the files beside it show (a missing named profile): rejected before anything stops.
      checkProfile(next.config);
    } catch (error) {
      const message = (error as Error).message;
      logger.error(`Configuration reload rejected; the running configuration stays. ${message}`);
      await answerReload(false, `rejected: ${message}`);
      await notifier.send({ READY: '1', STATUS: currentStatus() });
      return;
    }
    try {
      agent = (await applyConfig(agent, next.config, logger)).agent;
      config = next.config;
      await bindMonitoring();
      logger.info('Configuration reloaded');
      await answerReload(true, 'configuration reloaded');
    } catch (error) {
      const message = `starting with the new configuration failed (${(error as Error).message}); keeping the old one`;
      logger.error(`Configuration reload: ${message}`);
      agent = await createAgent({ config, logger });
      await answerReload(false, message);
    }
    await notifier.send({ READY: '1', STATUS: currentStatus() });
  };
  process.on('SIGHUP', () => {
    if (stopping) return;
    reloading = reloading.then(reload, reload);
  });

  // The watchdog ping goes out only while the agent is not wedged; a wedged event loop sends none at all. The same
  // HealthMonitor answers GET /healthz, so the endpoint and the watchdog never disagree.
  const health = new HealthMonitor();
  let wedged = '';
  function currentStatus(): string {
    return agent ? health.judge(agent, now()).status : 'starting';
  }
  function tick(): void {
    if (!agent || stopping) return;
    const at = now();
    health.observe(agent, at);
    const verdict = health.judge(agent, at);
    // Pauses and state write failures have their own log lines; the wedge is the one said here.
    const stuck = verdict.watchdog ? '' : verdict.reason;
    if (stuck !== '' && stuck !== wedged) {
      const restart =
        notifier.watchdogIntervalMs === undefined ? '' : '; no watchdog ping: systemd will restart the agent';
      logger.error(`Unhealthy: ${stuck}${restart}`);
    } else if (stuck === '' && wedged !== '') {
      logger.info('Healthy again');
    }
    wedged = stuck;
    inBackground(
      notifier.send(
        verdict.watchdog ? { WATCHDOG: '1', STATUS: verdict.status } : { STATUS: verdict.status },
      ),
      logger,
      'Notifying systemd',
    );
  }

  // GET /metrics and /healthz (monitoring.http), a TCP listener of its own; re-bound when a reload changes it.
  let monitoring: { listen: string; server: MonitoringServer } | undefined;
  const bindMonitoring = async (): Promise<void> => {
    const listen = config.monitoring.http?.listen;
    if (monitoring?.listen === listen) return;
    if (monitoring) {
      await monitoring.server.close();
      monitoring = undefined;
    }
    if (listen === undefined) return;
    try {
      const server = await startMonitoring({
        listen,
        agent: () => agent,
        health,
        now,
        // The queue gauges by lane, as the running agent's pipeline orders them.
        lanes: { laneOf: (entry) => agent?.laneOf(entry) ?? 'normal', lanes: LANES },
      });
      monitoring = { listen, server };
      logger.info(`Monitoring endpoint on http://${server.address} (/metrics, /healthz)`);
    } catch (error) {
      // Uploads matter more than the endpoint: say so loudly and go on.
      logger.error(`Monitoring endpoint not started: ${(error as Error).message}`);
    }
  };

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
  // The control channel of `tvm-upload bandwidth` and `tvm-upload upload`. Its socket stays where it was opened for
  // the life of the process (a reload that moves the state directory restarts the agent, not the socket).
  const control = new ControlServer();
  registerDaemonRoutes(control, { agent: () => (stopping ? undefined : agent) });
  const socketPath = controlSocketPath(config);
  try {
    await control.listen(socketPath);
  } catch (error) {
    logger.warn(
      `Control socket ${socketPath} unavailable (${(error as Error).message}): commands that change the running agent will not reach it`,
    );
  }
  await bindMonitoring();
  await notifier.send({ READY: '1', STATUS: currentStatus() });
  const ticks = setInterval(tick, notifier.watchdogIntervalMs ?? STATUS_INTERVAL_MS);
  ticks.unref();
  const code = await done;
  await control.close();
  clearInterval(ticks);
  await monitoring?.server.close();
  clearInterval(keepAlive);
  // Sockets of the SDK's keep-alive agents may linger; the state is flushed and the lock released.
  setTimeout(() => process.exit(code), 100).unref();
  return code;
}
