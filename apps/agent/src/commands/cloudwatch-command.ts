import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { classify } from '@tvm/error-classification';
import { MetricsError } from '@tvm/metrics';
import { COMMAND_MAX_ATTEMPTS, cloudWatchClientFor } from '../adapters/aws-clients.js';
import type { AgentConfig } from '../config.js';
import { loadAwsCommandConfig } from './aws-config.js';
import { withCommandRetry, type CommandRetryOptions } from './retry.js';
import { EXIT, parseCommandArgs, printJson, type CommandIo } from './shared.js';

/** What a `<noun> apply` command against CloudWatch does, once its arguments and config are read. */
export interface CloudWatchApply<T> {
  /** `alarms`, `dashboard`. */
  noun: string;
  usage: string;
  /** The command's own options (besides --config, --json, --help). */
  options: Parameters<typeof parseCommandArgs>[1];
  /** The idempotent call (compares before it writes, so a retry after a failure changes nothing twice). */
  apply: (context: {
    client: CloudWatchClient;
    config: AgentConfig;
    values: Record<string, string | boolean | undefined>;
    signal: AbortSignal;
  }) => Promise<T>;
  /** The lines printed without --json. */
  lines: (result: T) => string[];
}

/**
 * Runs `tvm-upload <noun> apply`: parses the arguments, loads the config as the daemon would, builds the CloudWatch
 * client, applies with the ops commands' retry of temporary errors, prints the result. Exit 0 when applied, 1 when
 * CloudWatch refused or the config is invalid, 2 for usage.
 */
export async function runCloudWatchApply<T>(
  command: CloudWatchApply<T>,
  args: string[],
  io: CommandIo,
  retry: CommandRetryOptions,
): Promise<number> {
  const parsed = parseCommandArgs(args, command.options, command.usage, io, true);
  if ('exit' in parsed) return parsed.exit;
  if (parsed.positionals.length !== 1 || parsed.positionals[0] !== 'apply') {
    io.stderr(`Expected: ${command.noun} apply\n${command.usage}`);
    return EXIT.usage;
  }
  const config = await loadAwsCommandConfig(parsed.values.config, io);
  if (!config) return EXIT.failure;
  const client = await cloudWatchClientFor(config, { maxAttempts: COMMAND_MAX_ATTEMPTS });
  try {
    const result = await withCommandRetry(
      `${command.noun} apply`,
      () => command.apply({ client, config, values: parsed.values, signal: AbortSignal.timeout(60_000) }),
      io,
      retry,
    );
    if (parsed.values.json) printJson(io, result);
    else for (const line of command.lines(result)) io.stdout(`${line}\n`);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof TypeError) {
      io.stderr(`${error.message}\n`);
      return EXIT.usage;
    }
    const message = error instanceof MetricsError ? error.message : classify(error).message;
    if (parsed.values.json) printJson(io, { error: message });
    io.stderr(`${command.noun} apply failed: ${message}\n`);
    return EXIT.failure;
  } finally {
    client.destroy();
  }
}
