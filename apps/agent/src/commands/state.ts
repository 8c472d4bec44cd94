import { readStateSnapshot, type StateSnapshot } from '@tvm/durable-queue';
import { statePaths, type AgentConfig } from '../config.js';
import { readAgentStatus, type AgentStatus } from './agent-status.js';

/** The state files as read without the lock, plus whether the daemon runs and what it says about itself. */
export interface OpsState {
  snapshot: StateSnapshot;
  stateDir: string;
  /** The pid of the live agent holding the state directory, if one does. */
  agentPid?: number;
  /** The running agent's status file (ignored when no agent holds the lock: it would be stale). */
  agentStatus?: AgentStatus;
}

/** Reads the state while the daemon may be running: never takes its lock, never writes. */
export async function readOpsState(config: AgentConfig): Promise<OpsState> {
  const paths = statePaths(config);
  const snapshot = await readStateSnapshot({
    queueFile: paths.queueFile,
    failedFile: paths.failedFile,
    registryFile: paths.registryFile,
  });
  const alive = snapshot.lock?.alive === true;
  const agentStatus = alive ? await readAgentStatus(paths.stateDir) : undefined;
  return {
    snapshot,
    stateDir: paths.stateDir,
    ...(alive && snapshot.lock?.pid !== undefined ? { agentPid: snapshot.lock.pid } : {}),
    ...(agentStatus ? { agentStatus } : {}),
  };
}
