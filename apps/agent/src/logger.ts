import { fstatSync } from 'node:fs';
import { displayFileName } from './file-names.js';

/** Log levels, least to most severe. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** The logger shape every @tvm library accepts (CONVENTIONS.md). */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** The agent's logger: the library shape plus a level that SIGHUP or `--log-level` can change. */
export interface AgentLogger extends Logger {
  level: LogLevel;
  /** True when `level` would be written: lets callers skip building expensive debug lines. */
  enabled(level: LogLevel): boolean;
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
// sd-daemon(3) priorities: journald reads a `<N>` prefix on each line when SyslogLevelPrefix is on (the default).
const PRIORITY: Record<LogLevel, number> = { debug: 7, info: 6, warn: 4, error: 3 };

/** True when `value` names a log level. */
export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && Object.hasOwn(RANK, value);
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Lowest level written. @default 'info' */
  level?: LogLevel;
  /**
   * Prefix each line with its syslog priority (`<3>` for errors) instead of a timestamp and level name.
   * @default per stream, {@link journalStreams}: only a stream that is the journal stream systemd names in
   * JOURNAL_STREAM (device:inode) gets prefixes, so `tvm-upload run | tee` from a unit's shell is not garbled
   */
  journal?: boolean;
  /** Where lines go. @default process.stdout for debug/info, process.stderr for warn/error */
  write?: (line: string, level: LogLevel) => void;
  /** Wall-clock time for the timestamp outside the journal. @default Date.now */
  now?: () => number;
}

/** Creates the agent's logger: one line per event, credentials redacted, newlines folded. */
export function createLogger(options: LoggerOptions = {}): AgentLogger {
  const streams =
    options.journal === undefined ? journalStreams() : { stdout: options.journal, stderr: options.journal };
  const journalFor = (level: LogLevel) => (RANK[level] >= RANK.warn ? streams.stderr : streams.stdout);
  const now = options.now ?? Date.now;
  const write =
    options.write ??
    ((line: string, level: LogLevel) =>
      (RANK[level] >= RANK.warn ? process.stderr : process.stdout).write(line));
  const logger: AgentLogger = {
    level: options.level ?? 'info',
    enabled: (level) => RANK[level] >= RANK[logger.level],
    debug: (message) => emit('debug', message),
    info: (message) => emit('info', message),
    warn: (message) => emit('warn', message),
    error: (message) => emit('error', message),
  };
  function emit(level: LogLevel, message: string): void {
    if (!logger.enabled(level)) return;
    // A name that is not valid UTF-8 shows its bytes as \xNN: written as is, each would become U+FFFD.
    const text = displayFileName(redact(message)).replace(/\s*[\r\n]+\s*/g, ' ');
    // journald stamps time, unit and pid itself; elsewhere (a terminal, a test) the line carries them.
    const prefix = journalFor(level)
      ? `<${PRIORITY[level]}>`
      : `${new Date(now()).toISOString()} ${level.toUpperCase().padEnd(5)} `;
    write(`${prefix}${text}\n`, level);
  }
  return logger;
}

/**
 * Which of stdout and stderr are connected to the journal: systemd sets JOURNAL_STREAM to `device:inode` of the
 * stream it connected (systemd.exec(5)); a process must compare it with its own file descriptors before it uses
 * the journal's conventions (sd-daemon(3)), because a child of a service inherits the variable with other streams.
 */
export function journalStreams(
  env: NodeJS.ProcessEnv = process.env,
  statFd: (fd: number) => { dev: number; ino: number } | undefined = (fd) => {
    try {
      return fstatSync(fd);
    } catch {
      return undefined;
    }
  },
): { stdout: boolean; stderr: boolean } {
  const match = /^(\d+):(\d+)$/.exec(env['JOURNAL_STREAM'] ?? '');
  if (!match) return { stdout: false, stderr: false };
  const is = (fd: number) => {
    const stat = statFd(fd);
    return stat !== undefined && String(stat.dev) === match[1] && String(stat.ino) === match[2];
  };
  return { stdout: is(1), stderr: is(2) };
}

const ACCESS_KEY_ID = /\b((?:AKIA|ASIA|AROA|AIDA)[A-Z0-9]{12})([A-Z0-9]{4})\b/g;
const SECRET_ASSIGNMENT =
  /\b(aws_secret_access_key|aws_session_token|secretAccessKey|sessionToken|X-Amz-Signature|X-Amz-Security-Token|Signature)(["']?\s*[=:]\s*["']?)[^\s"'&,;]+/gi;

/**
 * Removes credentials from a log line: secrets and session tokens become `[redacted]`, access key ids keep only their
 * last four characters (enough to tell two keys apart, as the AWS console does).
 */
export function redact(text: string): string {
  return text
    .replace(ACCESS_KEY_ID, (_m, _head: string, tail: string) => `****************${tail}`)
    .replace(SECRET_ASSIGNMENT, (_m, name: string, sep: string) => `${name}${sep}[redacted]`);
}

/** A logger that drops everything (tests, library defaults). */
export const silentLogger: AgentLogger = {
  level: 'error',
  enabled: () => false,
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};
