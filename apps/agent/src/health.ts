/**
 * Whether the running agent is healthy, for systemd's watchdog (`WATCHDOG=1` is sent only while it is) and the
 * `STATUS=` line `systemctl status tvm-upload` shows. Pure: every input is a plain value, time included.
 */

/** What the health decision looks at, read from the agent by {@link healthInputsOf}. */
export interface HealthInputs {
  /** Wall-clock now (ms). */
  now: number;
  /** Files in the upload queue. */
  queued: number;
  /** Uploads in flight. */
  inFlight: number;
  /** Why uploads are paused (outage, destination error), or undefined when online. */
  paused: string | undefined;
  /** When the agent last made upload progress (acknowledged bytes, or a finished upload), if ever. */
  lastProgressAt: number | undefined;
  /** When the current stretch of in-flight work began (0 uploads in flight before it), if work is in flight. */
  busySince: number | undefined;
  /** When the last upload finished, if ever (for the status line). */
  lastUploadAt: number | undefined;
}

/** Limits of {@link judgeHealth}. */
export interface HealthLimits {
  /**
   * With uploads in flight and the destination online, the agent must make progress within this long, or it is
   * wedged (the socket timeouts fail a stalled request well before it). @default 600000 (10 minutes)
   */
  progressTimeoutMs: number;
}

export const DEFAULT_HEALTH_LIMITS: HealthLimits = { progressTimeoutMs: 10 * 60_000 };

/** The verdict: healthy or not, why, and the status line. */
export interface HealthVerdict {
  healthy: boolean;
  /** Why it is unhealthy; empty when healthy. */
  reason: string;
  /** `12 queued, online, last upload 10:32` */
  status: string;
}

/**
 * Healthy unless uploads are in flight on an online destination and nothing has progressed for
 * `progressTimeoutMs` (counted from the later of the last progress and the start of the work in flight). That the
 * event loop answers is shown by this being called at all: a wedged loop sends no watchdog ping.
 */
export function judgeHealth(
  inputs: HealthInputs,
  limits: HealthLimits = DEFAULT_HEALTH_LIMITS,
  formatTime: (ms: number) => string = hhmm,
): HealthVerdict {
  const status = statusLine(inputs, formatTime);
  if (inputs.inFlight > 0 && inputs.paused === undefined && inputs.busySince !== undefined) {
    const since = Math.max(inputs.lastProgressAt ?? 0, inputs.busySince);
    const stalledMs = inputs.now - since;
    if (stalledMs > limits.progressTimeoutMs) {
      const reason = `no upload progress for ${Math.round(stalledMs / 1000)}s with ${inputs.inFlight} upload(s) in flight while online (limit ${Math.round(limits.progressTimeoutMs / 1000)}s)`;
      return { healthy: false, reason, status: `${status}, UNHEALTHY: ${reason}` };
    }
  }
  return { healthy: true, reason: '', status };
}

/** `12 queued, online, last upload 10:32` / `3 queued, paused: <why>, no upload yet`. */
export function statusLine(inputs: HealthInputs, formatTime: (ms: number) => string = hhmm): string {
  const state = inputs.paused === undefined ? 'online' : `paused: ${inputs.paused}`;
  const last =
    inputs.lastUploadAt === undefined ? 'no upload yet' : `last upload ${formatTime(inputs.lastUploadAt)}`;
  return `${inputs.queued} queued, ${state}, ${last}`;
}

/** Local wall-clock `HH:MM`. */
export function hhmm(ms: number): string {
  const date = new Date(ms);
  return `${String(date.getHours()).padStart(2, '0')}:${String(date.getMinutes()).padStart(2, '0')}`;
}

/** The agent fields the health decision reads (the public ones; a structural type, so tests pass plain values). */
export interface HealthSource {
  store: { queue: { size: number } };
  pipeline: {
    paused: { message: string; kind: string } | undefined;
    lastUpload: { at: number } | undefined;
    lastProgressAt: number | undefined;
    status(): { inFlight: number };
  };
}

/** When the agent last made upload progress: the pipeline's last acknowledged bytes (a part, or a whole file). */
export function progressAt(agent: HealthSource): number | undefined {
  return agent.pipeline.lastProgressAt;
}

/** Reads {@link HealthInputs} from a running agent. */
export function healthInputsOf(
  agent: HealthSource,
  now: number,
  busySince: number | undefined,
): HealthInputs {
  const paused = agent.pipeline.paused;
  return {
    now,
    queued: agent.store.queue.size,
    inFlight: agent.pipeline.status().inFlight,
    paused: paused === undefined ? undefined : `${paused.kind}: ${paused.message}`.slice(0, 160),
    lastProgressAt: progressAt(agent),
    busySince,
    lastUploadAt: agent.pipeline.lastUpload?.at,
  };
}
