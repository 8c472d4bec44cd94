import {
  EXIT,
  formatBytes,
  formatDuration,
  iso,
  loadCommandConfig,
  localTime,
  parseCommandArgs,
  printJson,
  processIo,
  table,
  type CommandIo,
} from './shared.js';
import { readOpsState } from './state.js';

const QUEUE_USAGE = `Usage: tvm-upload queue [--config <path>] [--json]
Lists the files waiting for upload: path, size, attempts, next attempt and last error.
`;
const FAILED_USAGE = `Usage: tvm-upload failed [--config <path>] [--json]
Lists the files that failed permanently: path, size, attempts, reason and time.
After fixing the cause: tvm-upload requeue <path>... | --all-failed
`;

/** `tvm-upload queue`: the pending uploads, oldest first. Exit 0, or 1 when the config is invalid. */
export async function queueCommand(args: string[], io: CommandIo = processIo): Promise<number> {
  const parsed = parseCommandArgs(args, {}, QUEUE_USAGE, io);
  if ('exit' in parsed) return parsed.exit;
  const config = await loadCommandConfig(parsed.values.config, io);
  if (!config) return EXIT.failure;
  const { snapshot } = await readOpsState(config);
  for (const warning of snapshot.warnings) io.stderr(`warning: ${warning}\n`);
  const now = io.now();
  const entries = [...snapshot.queue].sort((a, b) => a.detectedAt - b.detectedAt);
  if (parsed.values.json) {
    printJson(
      io,
      entries.map((e) => ({
        filepath: e.filepath,
        size: e.size ?? null,
        source: e.source ?? null,
        attempts: e.attempts,
        detectedAt: iso(e.detectedAt) ?? null,
        nextAttemptAt: iso(e.nextAttemptAt) ?? null,
        due: e.nextAttemptAt <= now,
        lastError: e.lastError
          ? { category: e.lastError.category, message: e.lastError.message, at: iso(e.lastError.at) ?? null }
          : null,
        multipart: e.multipart
          ? { uploadId: e.multipart.uploadId, partsDone: e.multipart.parts.length }
          : null,
      })),
    );
    return EXIT.ok;
  }
  if (entries.length === 0) {
    io.stdout('The queue is empty.\n');
    return EXIT.ok;
  }
  const rows = entries.map((e) => [
    e.size === undefined ? '?' : formatBytes(e.size),
    String(e.attempts),
    e.nextAttemptAt <= now ? 'due now' : `in ${formatDuration(e.nextAttemptAt - now)}`,
    e.lastError ? `${e.lastError.category}: ${e.lastError.message}` : '',
    e.filepath,
  ]);
  io.stdout(
    table(
      ['SIZE', 'ATTEMPTS', 'NEXT ATTEMPT', 'LAST ERROR', 'PATH'],
      rows.map((r) => [r[0]!, r[1]!, r[2]!, r[3]!.slice(0, 60), r[4]!]),
    ),
  );
  const bytes = entries.reduce((sum, e) => sum + (e.size ?? 0), 0);
  io.stdout(`${entries.length} file(s), ${formatBytes(bytes)} pending\n`);
  return EXIT.ok;
}

/** `tvm-upload failed`: the dead-letter list, newest failure first. Exit 0, or 1 when the config is invalid. */
export async function failedCommand(args: string[], io: CommandIo = processIo): Promise<number> {
  const parsed = parseCommandArgs(args, {}, FAILED_USAGE, io);
  if ('exit' in parsed) return parsed.exit;
  const config = await loadCommandConfig(parsed.values.config, io);
  if (!config) return EXIT.failure;
  const { snapshot } = await readOpsState(config);
  for (const warning of snapshot.warnings) io.stderr(`warning: ${warning}\n`);
  const entries = [...snapshot.failed].sort((a, b) => b.failedAt - a.failedAt);
  if (parsed.values.json) {
    printJson(
      io,
      entries.map((e) => ({
        filepath: e.filepath,
        size: e.size ?? null,
        source: e.source ?? null,
        attempts: e.attempts,
        failedAt: iso(e.failedAt) ?? null,
        category: e.category,
        message: e.message,
      })),
    );
    return EXIT.ok;
  }
  if (entries.length === 0) {
    io.stdout('No failed files.\n');
    return EXIT.ok;
  }
  const rows = entries.map((e) => [
    localTime(e.failedAt),
    String(e.attempts),
    `${e.category}: ${e.message}`.slice(0, 80),
    e.filepath,
  ]);
  io.stdout(table(['FAILED AT', 'ATTEMPTS', 'REASON', 'PATH'], rows));
  io.stdout(`${entries.length} failed file(s). After fixing the cause: tvm-upload requeue --all-failed\n`);
  return EXIT.ok;
}
