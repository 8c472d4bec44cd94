import { ALARM_RULES, applyAlarms, UPLOADS_PAUSED_ALARM_SECONDS } from '@tvm/metrics';
import { runCloudWatchApply } from './cloudwatch-command.js';
import type { CommandRetryOptions } from './retry.js';
import { processIo, type CommandIo } from './shared.js';

const USAGE = `Usage: tvm-upload alarms apply [--config <path>] [--json] [--sns-topic-arn <arn>]
Creates or updates this vehicle's CloudWatch alarms (${ALARM_RULES.map((r) => r.rule).join(', ')}); alarms that
are already as wanted are left alone. UploadsPaused fires when uploads have been paused (an outage or a destination
error) for ${UPLOADS_PAUSED_ALARM_SECONDS / 60} minutes. Needs cloudwatch:DescribeAlarms and cloudwatch:PutMetricAlarm.
The endpoint is CloudWatch's in the bucket's region unless AWS_ENDPOINT_URL_CLOUDWATCH is set.
Temporary errors (throttling, 503, a dropped connection) are retried 3 times (1 s, 2 s, 4 s); others fail at once.
`;

/**
 * `tvm-upload alarms apply`. Exit 0 when applied, 1 when CloudWatch refused or the config is invalid, 2 for usage.
 * `retry` sets the schedule of the retries of temporary errors (tests make it milliseconds).
 */
export function alarmsCommand(
  args: string[],
  io: CommandIo = processIo,
  retry: CommandRetryOptions = {},
): Promise<number> {
  return runCloudWatchApply(
    {
      noun: 'alarms',
      usage: USAGE,
      options: { 'sns-topic-arn': { type: 'string' } },
      apply: ({ client, config, values, signal }) => {
        const topic = values['sns-topic-arn'];
        return applyAlarms({
          client,
          vehicleId: config.vehicle_id,
          ...(typeof topic === 'string' ? { snsTopicArn: topic } : {}),
          signal,
        });
      },
      lines: (result) => [
        ...result.created.map((name) => `created    ${name}`),
        ...result.updated.map((name) => `updated    ${name}`),
        ...result.unchanged.map((name) => `unchanged  ${name}`),
      ],
    },
    args,
    io,
    retry,
  );
}
