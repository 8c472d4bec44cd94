import { checkConfigFile, formatProblem, statePaths, type ConfigCheck } from '../config.js';
import { describeConfig } from '../config-summary.js';
import { AgentError } from '../errors.js';
import { EXIT, parseCommandArgs, processIo, type CommandIo } from './shared.js';

const USAGE = `Usage: tvm-upload check-config [--config <path>] [--json]
Validates the config as the agent reads it (variables expanded, defaults filled in, s3.region / endpoint / CA
bundle resolved from AWS_REGION, AWS_CA_BUNDLE and the profile in s3.credentials_path/config). Touches no network.
Every problem names the key path and its line and column; a key within two edits of a known key is an error
("did you mean"), other unknown keys are warnings.
  --json   one JSON object on stdout: {"ok", "problems": [{key, line, column, message}], "warnings": [...],
           and when ok "config" and "state" (the state files' paths)}
Exit codes: 0 valid (warnings allowed), 1 invalid or unreadable config, 2 usage.
`;

/** `tvm-upload check-config`: exit 0 when valid, 1 when invalid or unreadable, 2 for usage. */
export async function checkConfigCommand(args: string[], io: CommandIo = processIo): Promise<number> {
  const parsed = parseCommandArgs(args, {}, USAGE, io);
  if ('exit' in parsed) return parsed.exit;
  const path = parsed.values.config;
  let check: ConfigCheck;
  try {
    check = await checkConfigFile(path);
  } catch (error) {
    if (!(error instanceof AgentError)) throw error;
    check = { problems: [{ key: '(file)', message: error.message }], warnings: [] };
  }
  if (parsed.values.json) {
    io.stdout(`${JSON.stringify(await jsonReport(check))}\n`);
    return check.config ? EXIT.ok : EXIT.failure;
  }
  // Warnings and problems go to stderr, the summary to stdout, as every command does.
  for (const warning of check.warnings) io.stderr(`warning: ${formatProblem(warning)}\n`);
  if (!check.config) {
    const count = check.problems.length;
    io.stderr(`Invalid configuration (${count} ${count === 1 ? 'problem' : 'problems'}): ${path}\n`);
    for (const problem of check.problems) io.stderr(`${formatProblem(problem)}\n`);
    return EXIT.failure;
  }
  io.stdout(`Config OK: ${path}\n${describeConfig(check.config).join('\n')}\n`);
  return EXIT.ok;
}

/** For scripts (health_check.sh reads `.state`): the config as the agent reads it (${HOME} expanded), and its state files. */
async function jsonReport(check: ConfigCheck): Promise<Record<string, unknown>> {
  const report: Record<string, unknown> = {
    ok: check.config !== undefined,
    problems: check.problems,
    warnings: check.warnings,
  };
  if (!check.config) return report;
  const { resolvePaths } = await import('@tvm/durable-queue');
  const paths = statePaths(check.config);
  const files = resolvePaths({
    queueFile: paths.queueFile,
    failedFile: paths.failedFile,
    registryFile: paths.registryFile,
  });
  return {
    ...report,
    config: check.config,
    state: {
      stateDir: paths.stateDir,
      queueFile: files.queueFile,
      failedFile: files.failedFile,
      registryFile: files.registryFile,
    },
  };
}
