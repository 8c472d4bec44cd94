import { pRetryOptions } from '@tvm/error-classification';
import pRetry from 'p-retry';
import type { CommandIo } from './shared.js';

/**
 * How an ops command (`verify`, `alarms apply`) retries a temporary AWS failure. An operator is waiting, so the
 * schedule is seconds, not the daemon's 1 s ... 512 s; the decision (what is temporary) is the daemon's.
 */
export interface CommandRetryOptions {
  /** Retries after the first attempt. @default 3 */
  retries?: number;
  /** Delay before the first retry, in ms; it doubles each retry. @default 1000 */
  initialDelayMs?: number;
  /** Cap on any delay, in ms. @default 4000 */
  maxDelayMs?: number;
}

/**
 * Runs `call`, retrying temporary errors (throttling, 503, a dropped connection) with p-retry driven by
 * `@tvm/error-classification`'s `pRetryOptions`: the adapter other services are told to use. Permanent errors
 * (access denied, no such bucket, an untrusted certificate) fail at once. Each retry is announced on stderr, so
 * `--json` output stays parseable.
 * @throws the last error, unchanged, when no retry helps.
 */
export function withCommandRetry<T>(
  what: string,
  call: () => Promise<T>,
  io: CommandIo,
  options: CommandRetryOptions = {},
): Promise<T> {
  const retries = options.retries ?? 3;
  return pRetry(
    () => call(),
    pRetryOptions({
      maxRetries: retries,
      initialDelayMs: options.initialDelayMs ?? 1000,
      maxDelayMs: options.maxDelayMs ?? 4000,
      onFailedAttempt: (classification, context) => {
        // p-retry never retries a TypeError (a programming or usage error) nor anything once the budget is spent.
        if (classification.kind !== 'temporary' || context.retriesLeft === 0) return;
        if (context.error instanceof TypeError) return;
        io.stderr(
          `${what}: ${classification.message} (${classification.category}); retry ${context.attemptNumber}/${retries}\n`,
        );
      },
    }),
  );
}
