import { setTimeout as sleep } from 'node:timers/promises';

/** The clock every @tvm package accepts (epoch ms, abortable sleep); the agent passes one object to all. */
export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Real time. Sleeps are unref'd: a pending timer never keeps the process alive by itself. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => sleep(ms, undefined, signal ? { signal, ref: false } : { ref: false }),
};
