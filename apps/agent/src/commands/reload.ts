import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { statePaths, type AgentConfig } from '../config.js';
import { EXIT, loadCommandConfig, parseCommandArgs, printJson, processIo, type CommandIo } from './shared.js';
import { readOpsState } from './state.js';

/** The daemon's answer to a SIGHUP, written to the state directory for `tvm-upload reload` to wait on. */
export interface ReloadResult {
  /** The daemon that answered. */
  pid: number;
  /** Counts this daemon's reloads, from 1: a new (pid, seq) is a new answer. */
  seq: number;
  /** ISO time of the answer. */
  at: string;
  ok: boolean;
  /** One line: what happened. */
  message: string;
  /** The config's problems when it was rejected. */
  problems: string[];
}

/** Where the daemon writes its {@link ReloadResult}. */
export function reloadResultPath(config: AgentConfig): string {
  return join(statePaths(config).stateDir, 'reload-result.json');
}

const USAGE = `Usage: tvm-upload reload [--config <path>] [--pid <pid>] [--timeout <seconds>] [--json]
Applies the config to the running agent (what \`systemctl reload tvm-upload\` runs): validates it, sends the agent
SIGHUP and waits for its answer. Exit 0 when the agent runs with the new config, 1 when the config is invalid or
the agent rejected it (it keeps running on the old one), or no agent answered in time.
`;

/** Reads the daemon's last reload answer, if any. */
async function readResult(file: string): Promise<ReloadResult | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as ReloadResult;
  } catch {
    return undefined;
  }
}

/**
 * `tvm-upload reload`: the unit's `ExecReload=`. An invalid config is reported (to the journal, under the unit)
 * and never signalled; a valid one is signalled with SIGHUP, and the daemon's answer (`reload-result.json` in the
 * state directory, written after each SIGHUP) decides the exit code.
 */
export async function reloadCommand(args: string[], io: CommandIo = processIo): Promise<number> {
  const parsed = parseCommandArgs(
    args,
    { pid: { type: 'string' }, timeout: { type: 'string', default: '60' } },
    USAGE,
    io,
  );
  if ('exit' in parsed) return parsed.exit;
  const { values } = parsed;
  const timeoutSeconds = Number(values.timeout);
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) {
    io.stderr(`--timeout must be a number of seconds > 0, got ${JSON.stringify(values.timeout)}\n${USAGE}`);
    return EXIT.usage;
  }
  const pidOption = values.pid === undefined ? undefined : Number(values.pid);
  if (pidOption !== undefined && !(Number.isInteger(pidOption) && pidOption > 0)) {
    io.stderr(`--pid must be a process id, got ${JSON.stringify(values.pid)}\n${USAGE}`);
    return EXIT.usage;
  }
  const report = (ok: boolean, message: string, problems: string[] = []) => {
    if (values.json) printJson(io, { ok, message, problems });
    else (ok ? io.stdout : io.stderr)(`${message}\n${problems.map((p) => `  ${p}\n`).join('')}`);
    return ok ? EXIT.ok : EXIT.failure;
  };
  const config = await loadCommandConfig(values.config, io);
  if (!config)
    return report(false, `Reload refused: ${values.config} is invalid; the running configuration stays`);
  const pid = pidOption ?? (await readOpsState(config)).agentPid;
  if (pid === undefined)
    return report(false, 'No running agent holds the state directory: nothing to reload');
  const file = reloadResultPath(config);
  const before = await readResult(file);
  try {
    process.kill(pid, 'SIGHUP');
  } catch (error) {
    return report(false, `Could not signal the agent (pid ${pid}): ${(error as Error).message}`);
  }
  const deadline = io.now() + timeoutSeconds * 1000;
  while (io.now() < deadline) {
    const answer = await readResult(file);
    if (answer && answer.pid === pid && (before?.pid !== answer.pid || before.seq !== answer.seq)) {
      return report(
        answer.ok,
        answer.ok
          ? `Reloaded: the agent (pid ${pid}) runs with ${values.config}`
          : `Reload rejected by the agent (pid ${pid}), which keeps its running configuration: ${answer.message}`,
        answer.problems,
      );
    }
    await sleep(100);
  }
  return report(
    false,
    `The agent (pid ${pid}) did not answer the reload within ${timeoutSeconds} s (see its journal)`,
  );
}
