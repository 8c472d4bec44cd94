#!/usr/bin/env -S node --max-semi-space-size=8 --max-old-space-size=256
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG_PATH, loadConfig, type LoadedConfig } from './config.js';
import { checkConfigCommand, OPS_USAGE, runOpsCommand } from './commands/index.js';
import { AgentError } from './errors.js';
import { createLogger, isLogLevel } from './logger.js';
import { versionLine } from './version.js';

const USAGE = `Usage:
  tvm-upload run [--config <path>] [--log-level debug|info|warn|error] [--test-config]
  tvm-upload check-config [--config <path>] [--json]
${OPS_USAGE}  tvm-upload --version
Default config: ${DEFAULT_CONFIG_PATH}
`;

/** `tvm-upload run --help`; the ops commands (check-config among them) carry their own. */
const COMMAND_HELP: Readonly<Record<string, string>> = {
  run: `Usage: tvm-upload run [--config <path>] [--log-level debug|info|warn|error] [--test-config]
Runs the agent in the foreground (systemd's ExecStart): watches the log directories, uploads each finished file to
S3 once, deletes per the deletion policies, publishes metrics. Logs go to stdout/stderr (the journal under systemd).
SIGTERM or SIGINT stops it cleanly (no new uploads; in-flight multipart state is kept); SIGHUP reloads the config.
  --config, -c <path>   the config file (default ${DEFAULT_CONFIG_PATH})
  --log-level <level>   debug, info (default), warn or error
  --test-config         validate the config, print its summary and exit, as check-config does
Exit codes: 0 stopped cleanly, 1 the config is invalid or the agent could not start, 2 wrong arguments.
`,
};

/** Runs one `tvm-upload` command and resolves to its exit code. */
async function main(argv: string[]): Promise<number> {
  const opsExitCode = await runOpsCommand(argv);
  if (opsExitCode !== undefined) return opsExitCode;
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c', default: DEFAULT_CONFIG_PATH },
        'log-level': { type: 'string' },
        'test-config': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        version: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command] = positionals;
  if (values.version || command === 'version') {
    process.stdout.write(`${versionLine()}\n`);
    return 0;
  }
  const commandHelp =
    command !== undefined && Object.hasOwn(COMMAND_HELP, command) ? COMMAND_HELP[command] : undefined;
  if (values.help && commandHelp !== undefined) {
    process.stdout.write(commandHelp);
    return 0;
  }
  if (values.help || command === undefined || command === 'help') {
    process.stdout.write(USAGE);
    return command === undefined && !values.help ? 2 : 0;
  }
  const level = values['log-level'] ?? 'info';
  if (!isLogLevel(level)) {
    process.stderr.write(`--log-level must be debug, info, warn or error, got ${JSON.stringify(level)}\n`);
    return 2;
  }
  const configPath = values.config;
  if (command === 'run' && values['test-config']) {
    // The old daemon's `--test-config`: exactly `tvm-upload check-config`.
    return checkConfigCommand(['--config', configPath, ...(values.json ? ['--json'] : [])]);
  }
  if (command === 'run') {
    const loaded = await readConfig(configPath);
    if (!loaded) return 1;
    const logger = createLogger({ level });
    // The SDK's Node 20 end-of-support notice would open every journal after each start; toolchain.md tracks it.
    process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
    const { runAgent } = await import('./run.js');
    return runAgent({ configPath, loaded, logger });
  }
  process.stderr.write(`Unknown command ${JSON.stringify(command)}\n${USAGE}`);
  return 2;
}

/** Loads the config, printing warnings, or every problem and undefined. */
async function readConfig(path: string): Promise<LoadedConfig | undefined> {
  try {
    const loaded = await loadConfig(path);
    for (const warning of loaded.warnings) process.stderr.write(`warning: ${warning}\n`);
    return loaded;
  } catch (error) {
    if (error instanceof AgentError) {
      for (const warning of error.warnings) process.stderr.write(`warning: ${warning}\n`);
      process.stderr.write(`${error.message}: ${path}\n`);
      for (const problem of error.problems) process.stderr.write(`${problem}\n`);
      return undefined;
    }
    throw error;
  }
}

process.exitCode = await main(process.argv.slice(2));
