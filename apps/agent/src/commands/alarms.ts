import { ALARM_RULES, applyAlarms, MetricsError } from '@tvm/metrics';
import { classify } from '@tvm/error-classification';
import { COMMAND_MAX_ATTEMPTS, cloudWatchClientFor } from '../adapters/aws-clients.js';
import { loadAwsCommandConfig } from './aws-config.js';
import { withCommandRetry, type CommandRetryOptions } from './retry.js';
import { EXIT, parseCommandArgs, printJson, processIo, type CommandIo } from './shared.js';

const USAGE = `Usage: tvm-upload alarms apply [--config <path>] [--json] [--sns-topic-arn <arn>]
Creates or updates this vehicle's CloudWatch alarms (${ALARM_RULES.map((r) => r.rule).join(', ')}); alarms that
are already as wanted are left alone. Needs cloudwatch:DescribeAlarms and cloudwatch:PutMetricAlarm.
The endpoint is CloudWatch's in the bucket's region unless AWS_ENDPOINT_URL_CLOUDWATCH is set.
Temporary errors (throttling, 503, a dropped connection) are retried 3 times (1 s, 2 s, 4 s); others fail at once.
`;

/**
 * `tvm-upload alarms apply`. Exit 0 when applied, 1 when CloudWatch refused or the config is invalid, 2 for usage.
 * `retry` sets the schedule of the retries of temporary errors (tests make it milliseconds).
 */
export async function alarmsCommand(
  args: string[],
  io: CommandIo = processIo,
  retry: CommandRetryOptions = {},
): Promise<number> {
  const parsed = parseCommandArgs(args, { 'sns-topic-arn': { type: 'string' } }, USAGE, io, true);
  if ('exit' in parsed) return parsed.exit;
  if (parsed.positionals.length !== 1 || parsed.positionals[0] !== 'apply') {
    io.stderr(`Expected: alarms apply\n${USAGE}`);
    return EXIT.usage;
  }
  const config = await loadAwsCommandConfig(parsed.values.config, io);
  if (!config) return EXIT.failure;
  const client = cloudWatchClientFor(config, { maxAttempts: COMMAND_MAX_ATTEMPTS });
  const topic = parsed.values['sns-topic-arn'];
  try {
    // applyAlarms compares before it writes, so running it again after a failure changes nothing twice.
    const result = await withCommandRetry(
      'alarms apply',
      () =>
        applyAlarms({
          client,
          vehicleId: config.vehicle_id,
          ...(typeof topic === 'string' ? { snsTopicArn: topic } : {}),
          signal: AbortSignal.timeout(60_000),
        }),
      io,
      retry,
    );
    if (parsed.values.json) printJson(io, result);
    else {
      for (const name of result.created) io.stdout(`created    ${name}\n`);
      for (const name of result.updated) io.stdout(`updated    ${name}\n`);
      for (const name of result.unchanged) io.stdout(`unchanged  ${name}\n`);
    }
    return EXIT.ok;
  } catch (error) {
    if (error instanceof TypeError) {
      io.stderr(`${error.message}\n`);
      return EXIT.usage;
    }
    const message = error instanceof MetricsError ? error.message : classify(error).message;
    if (parsed.values.json) printJson(io, { error: message });
    io.stderr(`alarms apply failed: ${message}\n`);
    return EXIT.failure;
  } finally {
    client.destroy();
  }
}
