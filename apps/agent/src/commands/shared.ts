import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DEFAULT_CONFIG_PATH, loadConfig, type AgentConfig } from '../config.js';
import { AgentError } from '../errors.js';
import { displayFileName } from '../file-names.js';

/** Exit codes shared by the ops commands (`verify` instead exits with its number of failed checks). */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** Where a command writes; injectable so tests and the demo can capture output. */
export interface CommandIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** True when stdout is a terminal (progress bars instead of plain lines). */
  isTty: boolean;
  /** Wall clock, epoch ms. */
  now: () => number;
}

/** The process's own streams; a file name that is not valid UTF-8 shows its bytes as `\xNN` (`--json` escapes them). */
export const processIo: CommandIo = {
  stdout: (text) => process.stdout.write(displayFileName(text)),
  stderr: (text) => process.stderr.write(displayFileName(text)),
  isTty: process.stdout.isTTY === true,
  now: Date.now,
};

/** An ops command: receives the arguments after its name and resolves to the exit code. */
export type OpsCommand = (args: string[], io?: CommandIo) => Promise<number>;

type Options = NonNullable<ParseArgsConfig['options']>;

/** Options every ops command takes. */
export const COMMON_OPTIONS = {
  config: { type: 'string', short: 'c', default: DEFAULT_CONFIG_PATH },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies Options;

/** A command's parsed arguments: the common options typed, the command's own as parsed. */
export interface ParsedCommand {
  values: { config: string; json: boolean; help: boolean } & Record<string, string | boolean | undefined>;
  positionals: string[];
}

/**
 * Parses a command's arguments. Wrong arguments print the problem and the usage, `--help` prints the usage; both
 * return the exit code to end the command with instead of the parsed arguments.
 */
export function parseCommandArgs(
  args: string[],
  options: Options,
  usage: string,
  io: CommandIo,
  allowPositionals = false,
): ParsedCommand | { exit: number } {
  let parsed: ParsedCommand;
  try {
    parsed = parseArgs({
      args,
      options: { ...COMMON_OPTIONS, ...options },
      allowPositionals,
      strict: true,
    }) as unknown as ParsedCommand;
  } catch (error) {
    io.stderr(`${(error as Error).message}\n${usage}`);
    return { exit: EXIT.usage };
  }
  if (parsed.values.help) {
    io.stdout(usage);
    return { exit: EXIT.ok };
  }
  return parsed;
}

/** Loads and validates the config for an ops command; prints the problems and returns undefined when invalid. */
export async function loadCommandConfig(path: string, io: CommandIo): Promise<AgentConfig | undefined> {
  try {
    const loaded = await loadConfig(path);
    // Warnings go to stderr so `--json` output stays parseable.
    for (const warning of loaded.warnings) io.stderr(`warning: ${warning}\n`);
    return loaded.config;
  } catch (error) {
    if (error instanceof AgentError) {
      io.stderr(`${error.message}${error.code === 'invalid-config' ? `: ${path}` : ''}\n`);
      for (const problem of error.problems) io.stderr(`${problem}\n`);
      return undefined;
    }
    throw error;
  }
}

/** Writes `value` as pretty JSON plus a newline. */
export function printJson(io: CommandIo, value: unknown): void {
  io.stdout(`${JSON.stringify(value, null, 2)}\n`);
}

/** `1.5 MiB`, `812 B`. Binary units, as `df -h` and the config's bandwidth limit use. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** `3 s`, `4 min`, `2 h 5 min`, `3 d 4 h`: a duration for a human. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** An ISO timestamp, or undefined for a missing time (JSON output uses both epoch ms and ISO strings). */
export function iso(ms: number | undefined): string | undefined {
  return ms === undefined || !Number.isFinite(ms) ? undefined : new Date(ms).toISOString();
}

/** `2026-11-28 10:40:00` in local time: what an operator compares with `date`. */
export function localTime(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Lays out rows as aligned columns (the last column is not padded). */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/**
 * Counts work done: on a terminal one line rewritten in place (`\r`), otherwise a plain line at most every
 * `every` items and at the end, so journald and CI logs are not flooded.
 */
export function createProgress(io: CommandIo, label: string, total: number, every = 100) {
  let done = 0;
  let lastPrinted = 0;
  const render = () => `${label}: ${done}/${total}`;
  return {
    tick(n = 1): void {
      done += n;
      if (io.isTty) io.stdout(`\r${render()}`);
      else if (done - lastPrinted >= every || done === total) {
        io.stdout(`${render()}\n`);
        lastPrinted = done;
      }
    },
    end(): void {
      if (io.isTty && total > 0) io.stdout('\n');
      else if (!io.isTty && lastPrinted !== done && total > 0) io.stdout(`${render()}\n`);
    },
  };
}
