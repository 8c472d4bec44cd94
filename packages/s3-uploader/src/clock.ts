import { setTimeout as delay } from 'node:timers/promises';

/** The clock shape every @tvm package accepts: epoch milliseconds and an abortable sleep. */
export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The real clock. Its timers are unref'd: a throttled upload waiting for tokens never keeps a process alive. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: async (ms, signal) => {
    await delay(ms, undefined, signal === undefined ? { ref: false } : { ref: false, signal });
  },
};
