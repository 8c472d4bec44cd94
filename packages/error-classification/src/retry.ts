import type { Classification } from './categories.js';
import { classify } from './classify.js';
import { invalidOption } from './errors.js';

/** The runbook's budget: "The system will retry up to 10 times". */
export const DEFAULT_MAX_RETRIES = 10;
/** The runbook's first delay: 1 s. */
export const DEFAULT_INITIAL_DELAY_MS = 1_000;
/** Each retry waits twice as long as the one before: 1, 2, 4 ... 512 s. */
export const DEFAULT_BACKOFF_FACTOR = 2;
/** The runbook's last delay: 512 s, the 10th retry. */
export const DEFAULT_MAX_DELAY_MS = 512_000;

/** Options of the retry schedule. */
export interface RetryScheduleOptions {
  /** Delay before retry 1, in ms. @default 1000 */
  initialDelayMs?: number;
  /** Growth per retry. @default 2 */
  factor?: number;
  /** Upper bound of any delay, in ms (also caps a server's Retry-After). @default 512000 */
  maxDelayMs?: number;
}

/** Options of {@link decide}. */
export interface DecideOptions extends RetryScheduleOptions {
  /** Retries allowed after the first attempt. @default 10 */
  maxRetries?: number;
  /** Current time in epoch ms, for HTTP-date `Retry-After` hints. @default Date.now() */
  now?: number;
}

/**
 * The delay before retry number `retryNumber` (1-based): 1 s, 2 s, 4 s ... 512 s for retries 1..10 by default.
 * @throws {TypeError} when `retryNumber` is not a positive integer or an option is out of range.
 */
export function retryDelayMs(retryNumber: number, options: RetryScheduleOptions = {}): number {
  if (!Number.isInteger(retryNumber) || retryNumber < 1) {
    invalidOption('retryNumber', 'a positive integer', retryNumber);
  }
  const { initialDelayMs, factor, maxDelayMs } = scheduleOptions(options);
  return Math.min(maxDelayMs, initialDelayMs * factor ** (retryNumber - 1));
}

function scheduleOptions(options: RetryScheduleOptions): Required<RetryScheduleOptions> {
  const initialDelayMs = options.initialDelayMs ?? DEFAULT_INITIAL_DELAY_MS;
  const factor = options.factor ?? DEFAULT_BACKOFF_FACTOR;
  const maxDelayMs = options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
  if (!Number.isFinite(initialDelayMs) || initialDelayMs < 0) {
    invalidOption('initialDelayMs', 'a non-negative number', initialDelayMs);
  }
  if (!Number.isFinite(factor) || factor < 1) invalidOption('factor', 'a number >= 1', factor);
  if (!(maxDelayMs >= initialDelayMs)) invalidOption('maxDelayMs', `a number >= initialDelayMs`, maxDelayMs);
  return { initialDelayMs, factor, maxDelayMs };
}

/** What to do after a failure. */
export type Decision =
  | {
      action: 'retry';
      /** How long to wait before the next attempt, in ms (the schedule, or a longer Retry-After hint). */
      delayMs: number;
      /** 1-based number of the retry about to be made; for an abort, the unchanged count. */
      retryNumber: number;
      /** False for a cancellation: it does not use up the budget. */
      counted: boolean;
      classification: Classification;
    }
  | {
      action: 'give-up';
      reason: 'permanent' | 'retries-exhausted';
      classification: Classification;
    };

/**
 * Decides what to do after a failure, given how many retries were already made.
 * Permanent errors give up at once; temporary ones are retried on the schedule until the budget is spent;
 * a cancellation is retried without spending the budget.
 * @throws {TypeError} when `retriesSoFar` is not a non-negative integer or an option is out of range.
 */
export function decide(error: unknown, retriesSoFar: number, options: DecideOptions = {}): Decision {
  if (!Number.isInteger(retriesSoFar) || retriesSoFar < 0) {
    invalidOption('retriesSoFar', 'a non-negative integer', retriesSoFar);
  }
  const maxRetries = options.maxRetries ?? DEFAULT_MAX_RETRIES;
  if (!Number.isInteger(maxRetries) || maxRetries < 0) {
    invalidOption('maxRetries', 'a non-negative integer', maxRetries);
  }
  const schedule = scheduleOptions(options);
  const classification = classify(error, options.now === undefined ? {} : { now: options.now });
  if (classification.category === 'aborted') {
    return { action: 'retry', delayMs: 0, retryNumber: retriesSoFar, counted: false, classification };
  }
  if (classification.kind === 'permanent') return { action: 'give-up', reason: 'permanent', classification };
  if (retriesSoFar >= maxRetries) return { action: 'give-up', reason: 'retries-exhausted', classification };
  const retryNumber = retriesSoFar + 1;
  const scheduled = retryDelayMs(retryNumber, schedule);
  // A server that names its own wait knows better than our schedule, but never beyond our cap.
  const hinted = Math.min(classification.retryAfterMs ?? 0, schedule.maxDelayMs);
  return {
    action: 'retry',
    delayMs: Math.max(scheduled, hinted),
    retryNumber,
    counted: true,
    classification,
  };
}
