import type { Clock } from './clock.js';
import type { AgentConfig } from './config.js';
import type { Destination } from './adapters/destination.js';
import { inBackground } from './background.js';
import type { AgentLogger } from './logger.js';

/** Uploads in flight on a replaced S3 client finish on it; it is closed this long after being replaced. */
export const RETIRED_CLIENT_GRACE_MS = 600_000;

/**
 * The S3 side in use, rebuilt when credentials or the bandwidth limit change. A replaced one is not closed at once
 * (that would cut uploads in flight off mid-request) but after {@link RETIRED_CLIENT_GRACE_MS}, or at `close()`.
 */
export class Destinations {
  #current: Destination;
  readonly #retired = new Set<Destination>();
  readonly #stop = new AbortController();

  constructor(
    private readonly make: (config: AgentConfig, clock: Clock) => Destination,
    config: AgentConfig,
    private readonly clock: Clock,
    private readonly logger: AgentLogger,
  ) {
    this.#current = make(config, clock);
  }

  get current(): Destination {
    return this.#current;
  }

  /** Builds a new destination for `config`; a config it cannot build from (a profile gone) keeps the current one. */
  rebuild(config: AgentConfig): boolean {
    let next: Destination;
    try {
      next = this.make(config, this.clock);
    } catch (error) {
      this.logger.error(`Keeping the current S3 client: ${(error as Error).message}`);
      return false;
    }
    const old = this.#current;
    this.#current = next;
    this.#retired.add(old);
    inBackground(
      this.clock.sleep(RETIRED_CLIENT_GRACE_MS, this.#stop.signal).then(
        () => {
          this.#retired.delete(old);
          old.close();
        },
        () => undefined, // closed with the rest at close()
      ),
      this.logger,
      'Closing a replaced S3 client',
    );
    return true;
  }

  close(): void {
    this.#stop.abort();
    for (const destination of [...this.#retired, this.#current]) destination.close();
    this.#retired.clear();
  }
}
