import { join } from 'node:path';
import { statePaths, type AgentConfig } from '../config.js';

export { ControlRequestError, ControlServer } from './server.js';
export type { ControlHandler, ControlRequest, ControlResponse } from './server.js';
export { ControlUnavailableError, controlRequest } from './client.js';
export type { ControlAnswer } from './client.js';

/** The running daemon's control socket: in the state directory, so every command finds the daemon of its config. */
export function controlSocketPath(config: AgentConfig): string {
  return join(statePaths(config).stateDir, 'control.sock');
}
