import { classify, retryDelayMs, type Classification } from '@tvm/error-classification';
import type { Clock } from '../clock.js';
import { inBackground } from '../background.js';
import type { AgentLogger } from '../logger.js';
import { formatDelay } from './transition.js';

/** Why uploads are not starting. */
export type PauseState =
  | { kind: 'outage'; since: number; confirmed: boolean; probes: number; message: string }
  | { kind: 'destination'; since: number; message: string };

/** Options of {@link PauseControl}. */
export interface PauseControlOptions {
  clock: Clock;
  logger: AgentLogger;
  /** Asks the destination whether it works (HeadBucket); rejects with the reason when it does not. */
  check: (signal: AbortSignal) => Promise<void>;
  /** First wait between two probes of an unreachable destination; doubles up to `maxProbeDelayMs`. */
  initialProbeDelayMs: number;
  maxProbeDelayMs: number;
  /** How often a destination pause (credentials, access, bucket) is re-checked. */
  destinationRecheckMs: number;
  /** How many files wait, for the log lines. */
  queued: () => number;
  /** Called on every pause and resume; `resumed` is true when uploads may start again. */
  onChange: (resumed: boolean) => void;
}

/**
 * A probe failure that means "cannot reach the destination": only a connectivity failure. A 503 or an access
 * error came from the destination, so it is reachable.
 */
export function meansUnreachable(error: unknown): boolean {
  const c = classify(error);
  return c.kind === 'temporary' && c.scope === 'connectivity';
}

/** How long to wait before probe number `attempt` (1-based) while paused. */
export function pauseProbeDelayMs(
  state: PauseState,
  attempt: number,
  options: Pick<PauseControlOptions, 'initialProbeDelayMs' | 'maxProbeDelayMs' | 'destinationRecheckMs'>,
): number {
  if (state.kind === 'destination') return options.destinationRecheckMs;
  return retryDelayMs(attempt, {
    initialDelayMs: Math.min(options.initialProbeDelayMs, options.maxProbeDelayMs),
    maxDelayMs: options.maxProbeDelayMs,
  });
}

/**
 * The pipeline's online / outage / destination-paused state machine, and the probe loop that ends a pause.
 *
 * - online -> outage (unconfirmed): a connectivity error; one probe answers for every upload failing meanwhile.
 *   The probe passes: back online, and the error was the file's own. It fails: the outage is confirmed and a
 *   probe loop with capped backoff runs until the destination answers.
 * - online or outage -> destination: a permanent destination error (credentials, access, bucket). Re-checked on a
 *   fixed interval, on a config reload and on a credentials change.
 * - any pause -> online: a probe or re-check passes, or (outage) an upload succeeds.
 */
export class PauseControl {
  readonly #o: PauseControlOptions;
  readonly #stopped = new AbortController();
  #state: PauseState | undefined;
  #probe: Promise<boolean> | undefined;
  #loop: AbortController | undefined;

  constructor(options: PauseControlOptions) {
    this.#o = options;
  }

  get state(): PauseState | undefined {
    return this.#state;
  }

  /**
   * After a connectivity-class error: is the destination reachable? During a confirmed outage the answer is no
   * without asking; during a destination pause it is yes (the destination answered).
   */
  async reachable(classification: Classification): Promise<boolean> {
    if (this.#state?.kind === 'outage' && this.#state.confirmed) return false;
    if (this.#state?.kind === 'destination') return true;
    this.#state ??= {
      kind: 'outage',
      since: this.#o.clock.now(),
      confirmed: false,
      probes: 0,
      message: classification.message,
    };
    this.#probe ??= this.#probeOnce().finally(() => {
      this.#probe = undefined;
    });
    const reachable = await this.#probe;
    const state = this.#state;
    // Another caller settled the question meanwhile (cleared or confirmed the outage).
    if (state?.kind !== 'outage' || state.confirmed) return reachable;
    if (reachable) {
      this.#state = undefined;
      return true;
    }
    state.confirmed = true;
    this.#o.onChange(false);
    this.#o.logger.warn(
      `Destination unreachable (${classification.message}); uploads paused, ${this.#o.queued()} file(s) wait; probing with backoff up to ${formatDelay(this.#o.maxProbeDelayMs)}`,
    );
    this.#startLoop();
    return false;
  }

  /** A permanent destination error: pause until a re-check passes. */
  pauseForDestination(classification: Classification): void {
    if (this.#state?.kind === 'destination') return;
    this.#state = { kind: 'destination', since: this.#o.clock.now(), message: classification.message };
    this.#o.onChange(false);
    this.#o.logger.error(
      `Uploads paused: ${classification.message}. ${this.#o.queued()} file(s) wait; uploads resume after a config reload (systemctl reload tvm-upload), a change of the AWS credentials file, a restart, or a successful re-check every ${formatDelay(this.#o.destinationRecheckMs)}`,
    );
    this.#startLoop();
  }

  /** Lifts a destination pause if the destination now passes its check (reload, credentials changed). */
  async recheck(reason: string): Promise<boolean> {
    const state = this.#state;
    if (state?.kind !== 'destination' || this.#stopped.signal.aborted) return state === undefined;
    try {
      await this.#o.check(this.#stopped.signal);
    } catch (error) {
      this.#o.logger.warn(`Destination still unusable after ${reason}: ${classify(error).message}`);
      return false;
    }
    this.resume(`${reason}: destination check passed`);
    return true;
  }

  /** An upload went through: an outage is over. */
  uploadSucceeded(): void {
    if (this.#state?.kind === 'outage') this.resume('an upload succeeded');
  }

  resume(reason: string): void {
    const state = this.#state;
    if (!state) return;
    this.#state = undefined;
    this.#loop?.abort();
    this.#loop = undefined;
    const minutes = ((this.#o.clock.now() - state.since) / 60_000).toFixed(1);
    this.#o.logger.info(
      `Uploads resumed after ${minutes} min (${reason}); ${this.#o.queued()} file(s) queued`,
    );
    this.#o.onChange(true);
  }

  stop(): void {
    this.#stopped.abort(new Error('tvm-upload is stopping'));
    this.#loop?.abort();
  }

  async #probeOnce(): Promise<boolean> {
    try {
      await this.#o.check(this.#stopped.signal);
      return true;
    } catch (error) {
      return !meansUnreachable(error) && classify(error).category !== 'aborted';
    }
  }

  /** While paused: probe (outage, capped backoff) or re-check (destination, fixed interval) until it passes. */
  #startLoop(): void {
    this.#loop?.abort();
    const loop = new AbortController();
    this.#loop = loop;
    const { clock, logger } = this.#o;
    const probing = async (): Promise<void> => {
      for (let attempt = 1; !loop.signal.aborted; attempt++) {
        const state = this.#state;
        if (!state) return;
        const delay = pauseProbeDelayMs(state, attempt, this.#o);
        try {
          await clock.sleep(delay, loop.signal);
        } catch {
          return;
        }
        if (this.#state !== state) return;
        try {
          await this.#o.check(loop.signal);
        } catch (error) {
          if (state.kind === 'outage') state.probes++;
          logger.debug(
            `Destination check failed (${classify(error).message}); next in ${formatDelay(pauseProbeDelayMs(state, attempt + 1, this.#o))}`,
          );
          continue;
        }
        if (this.#state === state) this.resume('destination check passed');
        return;
      }
    };
    inBackground(probing(), logger, 'Probing the destination');
  }
}
