import type { Agent } from '../agent.js';
import { versionLine } from '../version.js';
import { registerIncidentRoutes } from './incident.js';
import { registerBandwidthRoutes } from './bandwidth.js';
import { ControlRequestError, type ControlServer } from './server.js';

/** What the daemon's routes reach: the agent running now (a reload may replace it in-process). */
export interface DaemonContext {
  agent: () => Agent | undefined;
}

/** The running agent, or a 503 while it starts or restarts for a reload. */
export function currentAgent(context: DaemonContext): Agent {
  const agent = context.agent();
  if (!agent) throw new ControlRequestError(503, 'The agent is starting; try again in a moment');
  return agent;
}

/**
 * Every route the daemon answers on its control socket. Each feature adds its routes here, under `/v1/`.
 * `GET /v1/agent`: who answers (pid, version), for a command to check it reached the daemon of its config.
 */
export function registerDaemonRoutes(server: ControlServer, context: DaemonContext): void {
  server.route('GET', '/v1/agent', () => {
    currentAgent(context);
    return { body: { pid: process.pid, version: versionLine() } };
  });
  registerIncidentRoutes(server, context);
  registerBandwidthRoutes(server, context);
}
