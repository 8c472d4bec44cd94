import { setTimeout as delay } from 'node:timers/promises';

/** The time source every @tvm package accepts: epoch milliseconds and an abortable sleep. */
export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/**
 * The real clock. Its sleeps are unref'd: the publisher's timer alone never keeps a process alive.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => delay(ms, undefined, signal === undefined ? { ref: false } : { ref: false, signal }),
};
