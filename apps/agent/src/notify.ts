/**
 * sd_notify(3) for a Node process: Node has no unix datagram sockets, so each message is sent by systemd's own
 * `systemd-notify` (the unit has `NotifyAccess=all`: the sender is a child of the agent, in its cgroup).
 * systemd-notify waits (its default, a `BARRIER=1` round trip) until the service manager has processed the
 * message, so the message is never dropped because its sender exited before systemd looked up its cgroup
 * (systemd 252 drops those); messages are sent one at a time, in order. Without `NOTIFY_SOCKET` (not started by
 * systemd as Type=notify) every call does nothing.
 */
import { execFile } from 'node:child_process';
import type { Logger } from './logger.js';

/** Sends service state to systemd. */
export interface Notifier {
  /** True when systemd listens (`NOTIFY_SOCKET` is set). */
  readonly enabled: boolean;
  /** How often to send `WATCHDOG=1` (half of `WATCHDOG_USEC`), or undefined when the unit has no watchdog. */
  readonly watchdogIntervalMs: number | undefined;
  /** Sends `KEY=VALUE` assignments (`READY=1`, `STATUS=...`, `WATCHDOG=1`, `RELOADING=1`, `STOPPING=1`). */
  send(assignments: Record<string, string>): Promise<void>;
}

/** Options of {@link createNotifier}. */
export interface NotifierOptions {
  /** @default process.env */
  env?: NodeJS.ProcessEnv;
  /** @default 'systemd-notify' (from PATH) */
  command?: string;
  logger?: Logger;
  /** Runs the notifier; resolves when it exited. @default execFile with a 10 s timeout */
  run?: (command: string, args: string[]) => Promise<void>;
}

const defaultRun = (command: string, args: string[]) =>
  new Promise<void>((resolve, reject) => {
    execFile(command, args, { timeout: 10_000 }, (error, _stdout, stderr) => {
      if (error) reject(new Error(`${command} failed: ${stderr.trim() || error.message}`));
      else resolve();
    });
  });

/** The watchdog interval systemd asks for: half of `WATCHDOG_USEC` (sd_watchdog_enabled(3)), if it is ours. */
export function watchdogInterval(env: NodeJS.ProcessEnv, pid = process.pid): number | undefined {
  const usec = Number(env['WATCHDOG_USEC']);
  if (!Number.isFinite(usec) || usec <= 0) return undefined;
  const forPid = env['WATCHDOG_PID'];
  if (forPid !== undefined && Number(forPid) !== pid) return undefined;
  return Math.max(1, Math.floor(usec / 1000 / 2));
}

/** Creates the notifier for this process. */
export function createNotifier(options: NotifierOptions = {}): Notifier {
  const env = options.env ?? process.env;
  const enabled = typeof env['NOTIFY_SOCKET'] === 'string' && env['NOTIFY_SOCKET'] !== '';
  const command = options.command ?? 'systemd-notify';
  const run = options.run ?? defaultRun;
  let queue: Promise<void> = Promise.resolve();
  let warned = false;
  return {
    enabled,
    watchdogIntervalMs: enabled ? watchdogInterval(env) : undefined,
    send(assignments) {
      if (!enabled) return Promise.resolve();
      // One VARIABLE=VALUE per argument; newlines would end the assignment early.
      const args = Object.entries(assignments).map(
        ([key, value]) => `${key}=${value.replace(/\s*\n\s*/g, ' ')}`,
      );
      queue = queue.then(
        () => run(command, args),
        () => run(command, args),
      );
      return queue.catch((error: unknown) => {
        if (!warned)
          options.logger?.warn(`Telling systemd the service state failed: ${(error as Error).message}`);
        warned = true;
      });
    },
  };
}
