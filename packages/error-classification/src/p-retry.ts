import { classify } from './classify.js';
import { invalidOption } from './errors.js';
import {
  DEFAULT_BACKOFF_FACTOR,
  DEFAULT_INITIAL_DELAY_MS,
  DEFAULT_MAX_DELAY_MS,
  DEFAULT_MAX_RETRIES,
  type RetryScheduleOptions,
} from './retry.js';
import type { Classification } from './categories.js';

/** The subset of p-retry 7's `RetryContext` this adapter reads. */
export interface PRetryContext {
  readonly error: Error;
  readonly attemptNumber: number;
  readonly retriesLeft: number;
}

/** Options for p-retry 7 (`pRetry(fn, options)`), structurally typed so this package needs no p-retry at runtime. */
export interface PRetryOptions {
  retries: number;
  factor: number;
  minTimeout: number;
  maxTimeout: number;
  randomize: false;
  shouldRetry: (context: PRetryContext) => boolean;
  shouldConsumeRetry: (context: PRetryContext) => boolean;
  onFailedAttempt?: (context: PRetryContext) => void | Promise<void>;
}

/** Options of {@link pRetryOptions}. */
export interface PRetryAdapterOptions extends RetryScheduleOptions {
  /** Retries after the first attempt. @default 10 */
  maxRetries?: number;
  /** Called with each failure's classification, e.g. to log `Retry X/10 for ...`. */
  onFailedAttempt?: (classification: Classification, context: PRetryContext) => void | Promise<void>;
}

/**
 * Options that make p-retry follow this package's decisions: the runbook's schedule (1 s ... 512 s, 10 retries),
 * no retry of permanent errors, and cancellations that do not use up the budget.
 *
 * @example
 * await pRetry(() => s3.send(command), pRetryOptions({ onFailedAttempt: (c) => log(c.message) }));
 */
export function pRetryOptions(options: PRetryAdapterOptions = {}): PRetryOptions {
  const retries = options.maxRetries ?? DEFAULT_MAX_RETRIES;
  if (!Number.isInteger(retries) || retries < 0)
    invalidOption('maxRetries', 'a non-negative integer', retries);
  const result: PRetryOptions = {
    retries,
    factor: options.factor ?? DEFAULT_BACKOFF_FACTOR,
    minTimeout: options.initialDelayMs ?? DEFAULT_INITIAL_DELAY_MS,
    maxTimeout: options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS,
    randomize: false,
    shouldRetry: ({ error }) => classify(error).kind === 'temporary',
    shouldConsumeRetry: ({ error }) => classify(error).category !== 'aborted',
  };
  const onFailed = options.onFailedAttempt;
  if (onFailed) result.onFailedAttempt = (context) => onFailed(classify(context.error), context);
  return result;
}
