import type { OpsCommand } from './shared.js';

/**
 * A command whose module is loaded when it runs: `tvm-upload run` and each command load only their own code (and
 * its SDK clients), not every command's.
 */
function lazy(load: () => Promise<OpsCommand>): OpsCommand {
  return async (args, io) => (await load())(args, io);
}

/** `tvm-upload check-config`, also `run --test-config`. */
export const checkConfigCommand = lazy(async () => (await import('./check-config.js')).checkConfigCommand);

/** The operator commands, by name (issue 8); `run` stays in cli.ts. */
export const OPS_COMMANDS: Readonly<Record<string, OpsCommand>> = {
  'check-config': checkConfigCommand,
  status: lazy(async () => (await import('./status.js')).statusCommand),
  queue: lazy(async () => (await import('./queue.js')).queueCommand),
  failed: lazy(async () => (await import('./queue.js')).failedCommand),
  requeue: lazy(async () => (await import('./requeue.js')).requeueCommand),
  verify: lazy(async () => (await import('./verify.js')).verifyCommand),
  alarms: lazy(async () => (await import('./alarms.js')).alarmsCommand),
  dashboard: lazy(async () => (await import('./dashboard.js')).dashboardCommand),
  cleanup: lazy(async () => (await import('./cleanup.js')).cleanupCommand),
  reload: lazy(async () => (await import('./reload.js')).reloadCommand),
  manifest: lazy(async () => (await import('./manifest.js')).manifestCommand),
  audit: lazy(async () => (await import('./manifest.js')).auditCommand),
  upload: lazy(async () => (await import('./upload.js')).uploadCommand),
  bandwidth: lazy(async () => (await import('./bandwidth.js')).bandwidthCommand),
};

/** One line per ops command, for the CLI's usage text. */
export const OPS_USAGE = `  tvm-upload status|queue|failed [--config <path>] [--json]
  tvm-upload requeue <path>... | --all-failed [--config <path>] [--json]
  tvm-upload verify [--config <path>] [--json]
  tvm-upload alarms apply [--config <path>] [--json]
  tvm-upload dashboard apply [--name <name>] [--config <path>] [--json]
  tvm-upload cleanup [--dry-run] [--config <path>] [--json]
  tvm-upload reload [--config <path>] [--pid <pid>] [--timeout <seconds>] [--json]
  tvm-upload manifest [--date YYYY-MM-DD] [--config <path>] [--json]
  tvm-upload audit --date YYYY-MM-DD [--config <path>] [--json]
  tvm-upload upload --since <time> [--until <time>] [--source <name>]... [--wait [--timeout <seconds>]] [--config <path>] [--json]
  tvm-upload bandwidth [<rate>|off] [--config <path>] [--json]
`;

/** Options of the CLI that take a value, so their value is not mistaken for the command's name. */
const VALUE_OPTIONS = new Set([
  '--config',
  '-c',
  '--log-level',
  '--timeout',
  '--sns-topic-arn',
  '--pid',
  '--date',
  '--since',
  '--until',
  '--source',
  '--name',
]);

/**
 * Runs the ops command named in `argv` (the first argument that is not an option or an option's value), or
 * resolves to undefined when `argv` names none, for cli.ts to handle.
 */
export async function runOpsCommand(argv: string[]): Promise<number | undefined> {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (VALUE_OPTIONS.has(arg)) {
      i += 1;
      continue;
    }
    if (arg.startsWith('-')) continue;
    const command = OPS_COMMANDS[arg];
    if (!command || !Object.hasOwn(OPS_COMMANDS, arg)) return undefined;
    return command([...argv.slice(0, i), ...argv.slice(i + 1)]);
  }
  return undefined;
}
