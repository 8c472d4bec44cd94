import type { AgentLogger } from './logger.js';

/**
 * Starts work nobody waits for. A rejection is logged as `<what> failed: <message>`, never left unhandled: an
 * unhandled rejection ends a Node process, and the daemon must not die of, say, a state write on a full disk.
 */
export function inBackground(task: Promise<unknown>, logger: Pick<AgentLogger, 'error'>, what: string): void {
  task.catch((error: unknown) =>
    logger.error(`${what} failed: ${error instanceof Error ? error.message : String(error)}`),
  );
}
