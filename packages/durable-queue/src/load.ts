import { forEachLine, readTextIfExists, setAside } from './adapters/files.js';
import type { QueueEntry } from './entries.js';
import { messageOf } from './errors.js';
import { CorruptFileError, QueueLineParser, parseQueueFile, type ParsedFile } from './formats.js';
import type { Logger } from './logger.js';

/** Where a loaded state came from. */
export type LoadSource = 'file' | 'backup' | 'none';

/** A loaded state file. */
export interface Loaded<T> {
  parsed: ParsedFile<T>;
  source: LoadSource;
  /** True when the main file was missing or corrupt and the state came from `.bak` or started empty. */
  recovered: boolean;
}

/** How to load: a store sets a corrupt file aside; a read-only reader never writes. */
export interface LoadOptions {
  readOnly: boolean;
  now: number;
  logger: Logger;
  /** One line per recovery for read-only readers, which do not log. */
  warnings?: string[];
}

function tryParse<T>(text: string, parse: (text: string, now: number) => ParsedFile<T>, now: number) {
  try {
    return { parsed: parse(text, now) };
  } catch (error) {
    if (error instanceof CorruptFileError) return { reason: error.message };
    return { reason: messageOf(error) };
  }
}

const timestamp = (now: number) => new Date(now).toISOString().replace(/[:.]/g, '-');

/**
 * Loads one state file. A corrupt or truncated file is kept aside as `<file>.corrupt-<timestamp>` and the
 * state comes from `<file>.bak`; with no usable backup the state starts empty. Each case is one log line.
 */
export async function loadStateFile<T>(
  path: string,
  parse: (text: string, now: number) => ParsedFile<T>,
  options: LoadOptions,
): Promise<Loaded<T>> {
  const empty: ParsedFile<T> = { entries: [], problems: [], needsRewrite: false, legacy: false };
  const say = (level: 'warn' | 'error', message: string) => {
    if (options.readOnly) options.warnings?.push(message);
    else options.logger[level](message);
  };
  const text = await readTextIfExists(path);
  let problem: string;
  if (text !== undefined) {
    const main = tryParse(text, parse, options.now);
    if (main.parsed) return { parsed: main.parsed, source: 'file', recovered: false };
    problem = `${path} is corrupt (${main.reason})`;
    if (!options.readOnly)
      problem += `; kept it as ${await setAside(path, `corrupt-${timestamp(options.now)}`)}`;
  } else {
    problem = `${path} is missing`;
  }

  const backupPath = `${path}.bak`;
  const backupText = await readTextIfExists(backupPath);
  if (backupText !== undefined) {
    const backup = tryParse(backupText, parse, options.now);
    if (backup.parsed) {
      say('warn', `${problem}; restored ${backup.parsed.entries.length} entries from ${backupPath}`);
      return { parsed: { ...backup.parsed, needsRewrite: true }, source: 'backup', recovered: true };
    }
    say('error', `${problem}; ${backupPath} is corrupt too (${backup.reason}); starting empty`);
    return { parsed: { ...empty, needsRewrite: true }, source: 'none', recovered: true };
  }
  if (text === undefined) return { parsed: empty, source: 'none', recovered: false };
  say('error', `${problem}; no backup (${backupPath}) to restore from; starting empty`);
  return { parsed: { ...empty, needsRewrite: true }, source: 'none', recovered: true };
}

/**
 * Loads `queue.json`: line by line when it is in the layout this package writes (the fast path for a large
 * queue), otherwise, and for every kind of damage, through `loadStateFile()`.
 */
export async function loadQueueFile(path: string, options: LoadOptions): Promise<Loaded<QueueEntry>> {
  const parser = new QueueLineParser(options.now);
  if (await forEachLine(path, (line) => parser.line(line))) {
    const parsed = parser.finish();
    if (parsed) return { parsed, source: 'file', recovered: false };
  }
  return loadStateFile(path, parseQueueFile, options);
}
