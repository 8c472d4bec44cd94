import type { BandwidthState } from '../bandwidth/controller.js';
import { describeState } from '../bandwidth/controller.js';
import { parseRate } from '../bandwidth/timetable.js';
import { controlRequest, controlSocketPath, ControlUnavailableError } from '../control/index.js';
import { EXIT, loadCommandConfig, parseCommandArgs, printJson, processIo, type CommandIo } from './shared.js';

const USAGE = `Usage: tvm-upload bandwidth [<rate>|off] [--config <path>] [--json]
Without an argument: prints the bandwidth limit in force in the running agent and where it comes from
(upload.bandwidth_limit, its timetable entry, or a previous \`tvm-upload bandwidth\`), and until when.
With a rate ("256KiB/s", "2MB/s": binary units, a bare number is bytes per second) or off: sets the running agent's
limit at once, for the uploads in flight too, until the next boundary of the upload.bandwidth_limit timetable (or
until the agent restarts when the limit is a single rate). Exit 0 on success, 1 when no agent runs, 2 for a bad rate.
`;

/** `tvm-upload bandwidth [<rate>|off]`: through the running daemon's control socket. */
export async function bandwidthCommand(args: string[], io: CommandIo = processIo): Promise<number> {
  const parsed = parseCommandArgs(args, {}, USAGE, io, true);
  if ('exit' in parsed) return parsed.exit;
  const { positionals, values } = parsed;
  if (positionals.length > 1) {
    io.stderr(`Expected at most one rate, got ${positionals.length} arguments\n${USAGE}`);
    return EXIT.usage;
  }
  const rateText = positionals[0];
  const bytesPerSecond = rateText === undefined ? undefined : parseRate(rateText);
  if (rateText !== undefined && bytesPerSecond === undefined) {
    io.stderr(`Not a rate: ${JSON.stringify(rateText)} (such as "256KiB/s", "2MB/s", or off)\n${USAGE}`);
    return EXIT.usage;
  }
  const config = await loadCommandConfig(values.config, io);
  if (!config) return EXIT.failure;
  const socket = controlSocketPath(config);
  let answer;
  try {
    answer =
      bytesPerSecond === undefined
        ? await controlRequest(socket, 'GET', '/v1/bandwidth')
        : await controlRequest(socket, 'PUT', '/v1/bandwidth', { rate: bytesPerSecond });
  } catch (error) {
    if (error instanceof ControlUnavailableError) {
      io.stderr(`tvm-upload bandwidth: ${error.message}; the limit applies to a running agent only.\n`);
      return EXIT.failure;
    }
    throw error;
  }
  if (answer.status !== 200) {
    const message = (answer.body as { error?: string } | undefined)?.error ?? `HTTP ${answer.status}`;
    io.stderr(`tvm-upload bandwidth: the agent refused: ${message}\n`);
    return EXIT.failure;
  }
  const state = answer.body as BandwidthState;
  if (values.json) printJson(io, state);
  else
    io.stdout(
      `${bytesPerSecond === undefined ? 'Bandwidth limit' : 'Bandwidth limit set'}: ${describeState(state)}\n`,
    );
  return EXIT.ok;
}
