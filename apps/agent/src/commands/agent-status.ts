import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@tvm/durable-queue';

/** The running agent's view of itself, in `<state dir>/agent-status.json`, read by `tvm-upload status`. */
export const AGENT_STATUS_FILE = 'agent-status.json';

/** Where uploads go right now, as the running agent sees it. */
export type DestinationState = 'online' | 'paused-outage' | 'paused-destination';

/**
 * What only the running daemon knows (the queue, the failed list and the registry are read from their own files).
 * Written by the agent on each change of destination state and at least every `publish` tick; all times epoch ms.
 */
export interface AgentStatus {
  pid: number;
  version: string;
  startedAt: number;
  /** When this file was written; a stale file (agent killed) is reported as such. */
  updatedAt: number;
  destination: {
    state: DestinationState;
    /** Why uploads are paused (the classified error), absent when online. */
    reason?: string;
    since?: number;
  };
  /** The next scheduled queue run (interval or daily), if one is planned. */
  nextRunAt?: number;
  /** The last successful upload. */
  lastUpload?: { at: number; filepath: string; key?: string };
  /** Metric points waiting to be sent to CloudWatch. */
  metricsBuffered?: number;
  /**
   * Why the state files cannot be written (a full state disk): changes wait in memory and are retried. Written when
   * the status file itself still can be, e.g. once space is back, or when only the queue's writes fail.
   */
  stateWriteProblem?: { error: string; since: number };
  /** The link to S3 and today's metered budget (`upload.networks`); absent without that key. */
  network?: {
    iface: string | null;
    class: 'metered' | 'unmetered' | 'neither';
    address: string | null;
    budgetBytes: number;
    usedBytes: number;
    leftBytes: number;
    meteredLanes: string[];
  };
  /** Uploads in flight. */
  uploading?: Array<{ filepath: string; bytesSent: number; size: number }>;
}

/**
 * Writes the status file atomically and durably (temp file of its own, fsync, rename), so a reader never sees half
 * of it, overlapping writes never share a temp file, and a failed write (a full disk) leaves no temp file behind.
 */
export async function writeAgentStatus(stateDir: string, status: AgentStatus): Promise<void> {
  await writeFileAtomic(join(stateDir, AGENT_STATUS_FILE), `${JSON.stringify(status)}\n`);
}

/** Reads the status file; undefined when there is none or it is unreadable (the agent never ran, or an old one). */
export async function readAgentStatus(stateDir: string): Promise<AgentStatus | undefined> {
  let text: string;
  try {
    text = await readFile(join(stateDir, AGENT_STATUS_FILE), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const value = JSON.parse(text) as Partial<AgentStatus> | null;
    if (
      typeof value?.pid !== 'number' ||
      typeof value.updatedAt !== 'number' ||
      typeof value.destination !== 'object'
    ) {
      return undefined;
    }
    return value as AgentStatus;
  } catch {
    return undefined;
  }
}
