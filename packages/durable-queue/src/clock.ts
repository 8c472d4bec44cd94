import { setTimeout as delay } from 'node:timers/promises';

/** The clock every @tvm package accepts: epoch milliseconds and an abortable sleep. */
export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/**
 * The real clock. Its sleep keeps the process alive: the store only sleeps for `commitDelayMs`, and somebody is
 * awaiting that commit.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => (signal ? delay(ms, undefined, { signal }) : delay(ms)),
};
