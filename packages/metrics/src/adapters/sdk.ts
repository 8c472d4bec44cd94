import type * as CloudWatchSdk from '@aws-sdk/client-cloudwatch';

/**
 * The CloudWatch SDK's module, loaded on first use: an agent with CloudWatch turned off (and a consumer that only
 * renders Prometheus text) never pays the few hundred milliseconds of CPU it takes to load.
 */
export function cloudWatchSdk(): Promise<typeof CloudWatchSdk> {
  return import('@aws-sdk/client-cloudwatch');
}
