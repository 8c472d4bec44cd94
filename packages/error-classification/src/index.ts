export { CATEGORIES, isCategory } from './categories.js';
export type { Category, Classification, Kind, Scope } from './categories.js';
export { classify, parseRetryAfter } from './classify.js';
export type { ClassifyOptions } from './classify.js';
export {
  DEFAULT_BACKOFF_FACTOR,
  DEFAULT_INITIAL_DELAY_MS,
  DEFAULT_MAX_DELAY_MS,
  DEFAULT_MAX_RETRIES,
  decide,
  retryDelayMs,
} from './retry.js';
export type { Decision, DecideOptions, RetryScheduleOptions } from './retry.js';
export { pRetryOptions } from './p-retry.js';
export type { PRetryAdapterOptions, PRetryContext, PRetryOptions } from './p-retry.js';
export { MAX_OBJECT_BYTES, MAX_OBJECT_KEY_BYTES, classifyObjectLimits, objectKeyProblem } from './limits.js';
