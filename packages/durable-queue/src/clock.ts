/**
 * The part of the @tvm clock this package needs: epoch milliseconds (detection, retry and upload times, registry
 * pruning). The agent's clock, which also sleeps, fits it as it is.
 */
export interface Clock {
  now(): number;
}

/** The real clock. */
export const systemClock: Clock = { now: () => Date.now() };
