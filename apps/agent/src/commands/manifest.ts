import { join } from 'node:path';
import { classify } from '@tvm/error-classification';
import { COMMAND_MAX_ATTEMPTS, s3ClientFor } from '../adapters/aws-clients.js';
import { statePaths, type AgentConfig } from '../config.js';
import { auditManifest, ManifestJournal, publishManifest } from '../manifests/index.js';
import { dateIn } from '../object-key.js';
import { loadAwsCommandConfig } from './aws-config.js';
import { withCommandRetry, type CommandRetryOptions } from './retry.js';
import { EXIT, parseCommandArgs, printJson, processIo, type CommandIo } from './shared.js';

const MANIFEST_USAGE = `Usage: tvm-upload manifest [--date YYYY-MM-DD] [--config <path>] [--json]
Writes the day's delivery manifest, s3://<bucket>/<vehicle_id>/_manifests/<date>.jsonl, from the agent's local
journal: one JSON line per file uploaded that day and one per file deleted without being uploaded. The default date
is today (the day so far, in upload.timezone); writing a day again puts the same lines. The daemon writes each day's
manifest by itself soon after the day ends. Exit 0 when written, 1 when S3 refused or could not be reached.
`;

const AUDIT_USAGE = `Usage: tvm-upload audit --date YYYY-MM-DD [--config <path>] [--json]
Compares the day's delivery manifest with the bucket: objects the manifest lists that are missing, objects of that
day the manifest does not list (extra), and objects whose size differs. Lists only the date folders the manifest's
keys use and the day's own. Exit 0 only when the manifest and the bucket agree; 1 otherwise, or when the day has
no manifest.
`;

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** The journal the daemon of `config` records into (the command reads it; the daemon may append meanwhile). */
export function manifestJournalOf(config: AgentConfig): ManifestJournal {
  return new ManifestJournal({
    directory: join(statePaths(config).stateDir, 'manifests'),
    dateOf: (ms) => dateIn(ms, config.upload.timezone),
  });
}

function parseDate(
  value: unknown,
  fallback: string | undefined,
  usage: string,
  io: CommandIo,
): string | undefined {
  const date = typeof value === 'string' ? value : fallback;
  if (date === undefined) {
    io.stderr(`--date is required\n${usage}`);
    return undefined;
  }
  if (!DATE.test(date) || Number.isNaN(Date.parse(`${date}T00:00:00Z`))) {
    io.stderr(`--date must be a date such as 2026-12-01, got ${JSON.stringify(date)}\n${usage}`);
    return undefined;
  }
  return date;
}

/** `tvm-upload manifest`: writes a day's manifest now. */
export async function manifestCommand(
  args: string[],
  io: CommandIo = processIo,
  retry: CommandRetryOptions = {},
): Promise<number> {
  const parsed = parseCommandArgs(args, { date: { type: 'string' } }, MANIFEST_USAGE, io);
  if ('exit' in parsed) return parsed.exit;
  const config = await loadAwsCommandConfig(parsed.values.config, io);
  if (!config) return EXIT.failure;
  const today = dateIn(io.now(), config.upload.timezone);
  const date = parseDate(parsed.values['date'], today, MANIFEST_USAGE, io);
  if (date === undefined) return EXIT.usage;
  const s3 = s3ClientFor(config, { maxAttempts: COMMAND_MAX_ATTEMPTS });
  const journal = manifestJournalOf(config);
  try {
    const result = await withCommandRetry(
      'writing the manifest',
      () => publishManifest(s3, config.s3.bucket, config.vehicle_id, journal, date),
      io,
      retry,
    );
    // An ended day is now in S3: the daemon need not write it again.
    if (date < today) await journal.markSent(date, result.key, io.now());
    if (parsed.values.json) printJson(io, { bucket: config.s3.bucket, ...result });
    else {
      const torn = result.malformed === 0 ? '' : `; ${result.malformed} torn journal line(s) skipped`;
      io.stdout(
        `Wrote s3://${config.s3.bucket}/${result.key}: ${result.lines} line(s), ${result.bytes} bytes${torn}\n`,
      );
    }
    return EXIT.ok;
  } catch (error) {
    const c = classify(error);
    io.stderr(`Could not write the manifest of ${date}: ${c.message} (${c.category}, ${c.kind})\n`);
    return EXIT.failure;
  } finally {
    s3.destroy();
  }
}

/** `tvm-upload audit`: a day's manifest against the bucket. */
export async function auditCommand(
  args: string[],
  io: CommandIo = processIo,
  retry: CommandRetryOptions = {},
): Promise<number> {
  const parsed = parseCommandArgs(args, { date: { type: 'string' } }, AUDIT_USAGE, io);
  if ('exit' in parsed) return parsed.exit;
  const date = parseDate(parsed.values['date'], undefined, AUDIT_USAGE, io);
  if (date === undefined) return EXIT.usage;
  const config = await loadAwsCommandConfig(parsed.values.config, io);
  if (!config) return EXIT.failure;
  const s3 = s3ClientFor(config, { maxAttempts: COMMAND_MAX_ATTEMPTS });
  try {
    const report = await withCommandRetry(
      'auditing the manifest',
      () =>
        auditManifest(
          s3,
          config.s3.bucket,
          config.vehicle_id,
          date,
          (ms) => dateIn(ms, config.upload.timezone) === date,
        ),
      io,
      retry,
    );
    const agree = report.missing.length + report.extra.length + report.differing.length === 0;
    if (parsed.values.json) printJson(io, { agree, ...report });
    else {
      io.stdout(
        `${date}: ${report.matched} object(s) match the manifest; ${report.missing.length} missing, ${report.extra.length} extra, ${report.differing.length} differing; ${report.deletedUnsent} file(s) recorded as deleted unsent\n`,
      );
      for (const line of report.missing)
        io.stdout(`MISSING  ${line.key} (${line.size} bytes, from ${line.path})\n`);
      for (const object of report.extra) io.stdout(`EXTRA    ${object.key} (${object.size} bytes)\n`);
      for (const d of report.differing) {
        io.stdout(`DIFFERS  ${d.key}: ${d.bucketSize} bytes in S3, ${d.manifestSize} in the manifest\n`);
      }
    }
    return agree ? EXIT.ok : EXIT.failure;
  } catch (error) {
    const c = classify(error);
    const what = c.code === 'NoSuchKey' ? `no manifest for ${date} in s3://${config.s3.bucket}` : c.message;
    io.stderr(`Could not audit ${date}: ${what} (${c.category}, ${c.kind})\n`);
    return EXIT.failure;
  } finally {
    s3.destroy();
  }
}
