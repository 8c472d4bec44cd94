import type { LoadedConfig } from './config.js';
import type { AgentLogger } from './logger.js';

/** What `tvm-upload run` needs. */
export interface RunOptions {
  configPath: string;
  loaded: LoadedConfig;
  logger: AgentLogger;
}

/** Runs the daemon in the foreground until SIGTERM/SIGINT; resolves to the exit code. */
export async function runAgent(options: RunOptions): Promise<number> {
  options.logger.error('tvm-upload run: not implemented yet');
  return 1;
}
