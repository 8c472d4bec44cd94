import type { Classification } from '@tvm/error-classification';

/**
 * What failed:
 * - `publish-failed`: a PutMetricData request failed (the points stay buffered unless the service rejected them);
 * - `buffer-io`: the on-disk buffer could not be read or written;
 * - `alarm-failed`: DescribeAlarms or PutMetricAlarm failed in {@link applyAlarms};
 * - `dashboard-failed`: GetDashboard or PutDashboard failed in {@link applyDashboard}.
 */
export type MetricsErrorCode = 'publish-failed' | 'buffer-io' | 'alarm-failed' | 'dashboard-failed';

/** The one error class of @tvm/metrics. Carries the classification of its cause. */
export class MetricsError extends Error {
  override readonly name = 'MetricsError';
  readonly code: MetricsErrorCode;
  readonly classification: Classification | undefined;

  constructor(
    code: MetricsErrorCode,
    message: string,
    options: { cause: unknown; classification?: Classification },
  ) {
    super(message, { cause: options.cause });
    this.code = code;
    this.classification = options.classification;
  }
}

/** Throws the house-style TypeError for an invalid option or argument. */
export function invalidOption(name: string, expected: string, value: unknown): never {
  let shown: string;
  try {
    shown = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  } catch {
    shown = String(value);
  }
  if (typeof value === 'number' || value === undefined) shown = String(value);
  throw new TypeError(`Expected \`${name}\` to be ${expected}, got ${shown}`);
}
