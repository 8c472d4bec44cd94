/**
 * Whether the running agent is healthy: one decision for systemd's watchdog (`WATCHDOG=1` is sent only while it
 * says so), the `STATUS=` line `systemctl status tvm-upload` shows, and `GET /healthz` of the monitoring endpoint.
 * Pure: every input is a plain value, time included.
 */

/** Why uploads are paused, as the pipeline reports it. */
export interface PausedInput {
  /** `outage`: the destination cannot be reached (connection refused, DNS, timeouts); `destination`: it refuses us. */
  kind: 'outage' | 'destination';
  message: string;
  /** When the pause began (ms). */
  since: number;
}

/** What the health decision looks at, read from the agent by {@link healthInputsOf}. */
export interface HealthInputs {
  /** Wall-clock now (ms). */
  now: number;
  /** Files in the upload queue. */
  queued: number;
  /** Uploads in flight. */
  inFlight: number;
  /** Why uploads are paused (outage, destination error), or undefined when online. */
  paused: PausedInput | undefined;
  /** Why the state files cannot be written (a full or read-only disk), or undefined when they can. */
  stateWriteProblem: { error: string; since: number } | undefined;
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

/** What is wrong, when something is: the first of these that holds. */
export type HealthProblem = 'state-unwritable' | 'paused' | 'stalled';

/** The verdict: healthy or not, why, whether to ping the watchdog, and the status line. */
export interface HealthVerdict {
  /** `GET /healthz` answers 200 `ok` when true, else 503 with `reason`. */
  healthy: boolean;
  /**
   * Whether to send `WATCHDOG=1`. False only when the agent is wedged (`stalled`): a restart cures that. A pause or
   * an unwritable state is unhealthy but keeps the watchdog fed: a restart cures neither, and would lose the
   * changes waiting in memory for the disk.
   */
  watchdog: boolean;
  problem: HealthProblem | undefined;
  /** One line: why it is unhealthy; empty when healthy. */
  reason: string;
  /** `12 queued, online, last upload 10:32` */
  status: string;
}

/**
 * Unhealthy, in this order, when
 * - the state cannot be written (`state-unwritable`);
 * - uploads are paused: an outage (a connection refused counts) or a destination error (`paused`);
 * - uploads are in flight on an online destination and nothing has progressed for `progressTimeoutMs`, counted from
 *   the later of the last progress and the start of the work in flight (`stalled`: no watchdog ping).
 * That the event loop answers is shown by this being called at all: a wedged loop sends no watchdog ping.
 */
export function judgeHealth(
  inputs: HealthInputs,
  limits: HealthLimits = DEFAULT_HEALTH_LIMITS,
  formatTime: (ms: number) => string = hhmm,
): HealthVerdict {
  const status = statusLine(inputs, formatTime);
  let stalled: string | undefined;
  if (inputs.inFlight > 0 && inputs.paused === undefined && inputs.busySince !== undefined) {
    const since = Math.max(inputs.lastProgressAt ?? 0, inputs.busySince);
    const stalledMs = inputs.now - since;
    if (stalledMs > limits.progressTimeoutMs) {
      stalled = `no upload progress for ${seconds(stalledMs)}s with ${inputs.inFlight} upload(s) in flight while online (limit ${seconds(limits.progressTimeoutMs)}s)`;
    }
  }
  const watchdog = stalled === undefined;
  const unhealthy = (problem: HealthProblem, reason: string, shown: boolean): HealthVerdict => ({
    healthy: false,
    watchdog,
    problem,
    reason,
    // The status line already says "paused: ..."; the other problems are added to it.
    status: shown ? status : `${status}, UNHEALTHY: ${reason}`,
  });
  const write = inputs.stateWriteProblem;
  if (write !== undefined) {
    return unhealthy(
      'state-unwritable',
      `state cannot be written for ${seconds(inputs.now - write.since)}s: ${oneLine(write.error)}`,
      false,
    );
  }
  const paused = inputs.paused;
  if (paused !== undefined) {
    return unhealthy(
      'paused',
      `uploads paused (${paused.kind}) for ${seconds(inputs.now - paused.since)}s: ${oneLine(paused.message)}`,
      true,
    );
  }
  if (stalled !== undefined) return unhealthy('stalled', stalled, false);
  return { healthy: true, watchdog: true, problem: undefined, reason: '', status };
}

/** `12 queued, online, last upload 10:32` / `3 queued, paused: <kind>: <why>, no upload yet`. */
export function statusLine(inputs: HealthInputs, formatTime: (ms: number) => string = hhmm): string {
  const paused = inputs.paused;
  const state =
    paused === undefined ? 'online' : `paused: ${`${paused.kind}: ${oneLine(paused.message)}`.slice(0, 160)}`;
  const last =
    inputs.lastUploadAt === undefined ? 'no upload yet' : `last upload ${formatTime(inputs.lastUploadAt)}`;
  return `${inputs.queued} queued, ${state}, ${last}`;
}

/** Local wall-clock `HH:MM`. */
export function hhmm(ms: number): string {
  const date = new Date(ms);
  return `${String(date.getHours()).padStart(2, '0')}:${String(date.getMinutes()).padStart(2, '0')}`;
}

function seconds(ms: number): number {
  return Math.max(0, Math.round(ms / 1000));
}

/** A reason fit for one line of a 503 body or a `STATUS=` line: whitespace runs folded, at most 300 characters. */
function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim().slice(0, 300);
}

/** The agent fields the health decision reads (the public ones; a structural type, so tests pass plain values). */
export interface HealthSource {
  store: {
    queue: { size: number };
    writeProblem?: { error: string; since: number } | undefined;
  };
  pipeline: {
    paused: PausedInput | undefined;
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
  const write = agent.store.writeProblem;
  return {
    now,
    queued: agent.store.queue.size,
    inFlight: agent.pipeline.status().inFlight,
    paused:
      paused === undefined ? undefined : { kind: paused.kind, message: paused.message, since: paused.since },
    stateWriteProblem: write === undefined ? undefined : { error: write.error, since: write.since },
    lastProgressAt: progressAt(agent),
    busySince,
    lastUploadAt: agent.pipeline.lastUpload?.at,
  };
}

/**
 * The one place that keeps what {@link judgeHealth} needs across calls (when the current stretch of in-flight work
 * began), so the watchdog tick and `GET /healthz` judge alike. `observe()` is called on every watchdog tick;
 * `judge()` on every tick and every `/healthz` request.
 */
export class HealthMonitor {
  #busySince: number | undefined;
  readonly #limits: HealthLimits;

  constructor(limits: HealthLimits = DEFAULT_HEALTH_LIMITS) {
    this.#limits = limits;
  }

  /** Notes whether uploads are in flight now (the start of a stretch of work is its `busySince`). */
  observe(agent: HealthSource, now: number): void {
    const inFlight = agent.pipeline.status().inFlight;
    this.#busySince = inFlight === 0 ? undefined : (this.#busySince ?? now);
  }

  /** The verdict now. A stretch of work begun since the last `observe()` is counted from now. */
  judge(agent: HealthSource, now: number): HealthVerdict {
    const busySince = agent.pipeline.status().inFlight === 0 ? undefined : (this.#busySince ?? now);
    return judgeHealth(healthInputsOf(agent, now, busySince), this.#limits);
  }
}
