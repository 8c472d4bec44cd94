import { applyDashboard, dashboardBody, dashboardName } from '@tvm/metrics';
import type { AgentConfig } from '../config.js';
import { runCloudWatchApply } from './cloudwatch-command.js';
import type { CommandRetryOptions } from './retry.js';
import { processIo, type CommandIo } from './shared.js';

const USAGE = `Usage: tvm-upload dashboard apply [--name <name>] [--config <path>] [--json]
Creates or updates a CloudWatch dashboard (default name TVM-Upload-<vehicle_id>): fleet-wide widgets over every
VehicleId in the TVM/Upload namespace (failed attempts, files, bytes, disk usage, oldest waiting file, uploads paused)
and this vehicle's own series. The body is deterministic: applying it again prints "unchanged" and writes nothing.
Needs cloudwatch:GetDashboard and cloudwatch:PutDashboard. The endpoint is CloudWatch's in the bucket's region unless
AWS_ENDPOINT_URL_CLOUDWATCH is set. Temporary errors are retried 3 times (1 s, 2 s, 4 s); others fail at once.
`;

/** The dashboard's body for a config: its vehicle, region, and the publish interval rounded up to a minute. */
export function dashboardBodyFor(config: AgentConfig): string {
  return dashboardBody({
    vehicleId: config.vehicle_id,
    region: config.s3.region,
    periodSeconds: Math.max(60, Math.ceil(config.monitoring.publish_interval_seconds / 60) * 60),
  });
}

/**
 * `tvm-upload dashboard apply`. Exit 0 when applied (or unchanged), 1 when CloudWatch refused or the config is
 * invalid, 2 for usage (a name CloudWatch would refuse included).
 */
export function dashboardCommand(
  args: string[],
  io: CommandIo = processIo,
  retry: CommandRetryOptions = {},
): Promise<number> {
  return runCloudWatchApply(
    {
      noun: 'dashboard',
      usage: USAGE,
      options: { name: { type: 'string' } },
      apply: ({ client, config, values, signal }) => {
        const name = values['name'];
        return applyDashboard({
          client,
          name: typeof name === 'string' ? name : dashboardName(config.vehicle_id),
          body: dashboardBodyFor(config),
          signal,
        });
      },
      lines: (result) => [
        `${result.action.padEnd(10)} ${result.name}`,
        ...result.messages.map((message) => `warning: ${message}`),
      ],
    },
    args,
    io,
    retry,
  );
}
