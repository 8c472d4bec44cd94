import { setTimeout as sleep } from 'node:timers/promises';
import {
  ControlUnavailableError,
  controlRequest,
  controlSocketPath,
  type ControlAnswer,
} from '../control/index.js';
import { IncidentTimeError, parseIncidentWindow } from '../incident/time.js';
import type { IncidentFileView, IncidentRequestView } from '../incident/uploads.js';
import {
  EXIT,
  formatBytes,
  loadCommandConfig,
  parseCommandArgs,
  printJson,
  processIo,
  type CommandIo,
} from './shared.js';

const USAGE = `Usage: tvm-upload upload --since <time> [--until <time>] [--source <name>]... [--wait [--timeout <seconds>]]
                         [--config <path>] [--json]
Asks the running agent to upload every file of the log directories whose modification window overlaps
[--since, --until] now, in the incident lane (before every other lane), whatever the operational hours, the
metered-link lane rule and scan_existing_files.max_age_days say; the bandwidth limit still applies. A file
overlaps when its mtime is at or after --since and it was first written (birth time, or else the mtime of the
file before it in its folder) at or before --until. Files still being written go once they stay unchanged for
file_stable_seconds; files uploaded before (same version) are reported, not sent again.
  --since, --until   HH:MM (today, in upload.timezone), ISO 8601 (2026-12-01T10:00, ...+08:00, Z) or an offset
                     from now (-30m, -2h, -1d); --until defaults to now
  --source <name>    only this log directory's source (repeatable)
  --wait             show progress until every file is in S3 (exit 0), or exit 1 with the reason
  --timeout <s>      with --wait: give up waiting after this many seconds (exit 1; the files stay queued)
Exit 0 when the request was made (with --wait: every file is in S3), 1 when no agent runs, the agent refused the
request or a file failed (with --wait), 2 for wrong arguments.
`;

/** How often `--wait` asks the daemon. */
const POLL_MS = 500;

function describe(file: IncidentFileView): string {
  switch (file.state) {
    case 'already-uploaded':
      return `already uploaded${file.key ? ` as ${file.key}` : ''}`;
    case 'uploaded':
      return `uploaded${file.key ? ` as ${file.key}` : ''}`;
    case 'waiting':
      return 'still being written; goes once unchanged';
    case 'queued':
      return file.error
        ? `queued, retrying (${file.attempts ?? 0} attempt(s), last: ${file.error.category}: ${file.error.message})`
        : file.intake === 'promoted'
          ? 'queued already; moved to the incident lane'
          : file.intake === 'requeued'
            ? 'was on the failed list; queued for a new attempt'
            : 'queued';
    case 'failed':
      return `FAILED: ${file.error?.category ?? 'unknown'}: ${file.error?.message ?? ''}`;
    case 'missing':
      return 'MISSING: left the queue without being uploaded (deleted or changed?)';
  }
}

function summary(view: IncidentRequestView): string {
  const c = view.counts;
  const parts = [
    `${c.uploaded + c['already-uploaded']} in S3${c['already-uploaded'] > 0 ? ` (${c['already-uploaded']} already uploaded before)` : ''}`,
    ...(c.queued > 0 ? [`${c.queued} queued`] : []),
    ...(c.waiting > 0 ? [`${c.waiting} still being written`] : []),
    ...(c.failed > 0 ? [`${c.failed} failed`] : []),
    ...(c.missing > 0 ? [`${c.missing} missing`] : []),
  ];
  return `${view.files.length} file(s): ${parts.join(', ')}`;
}

/** A daemon's answer that is not the request: the error it gave, for the operator. */
function refusal(answer: ControlAnswer): string {
  const body = answer.body as { error?: unknown } | undefined;
  return typeof body?.error === 'string' ? body.error : `HTTP ${answer.status}`;
}

/**
 * `tvm-upload upload`: an incident upload through the running daemon's control channel (`POST /v1/uploads`, then
 * `GET /v1/uploads/:id` with `--wait`).
 */
export async function uploadCommand(args: string[], io: CommandIo = processIo): Promise<number> {
  const parsed = parseCommandArgs(
    joinTimeValues(args),
    {
      since: { type: 'string' },
      until: { type: 'string' },
      source: { type: 'string', multiple: true },
      wait: { type: 'boolean', default: false },
      timeout: { type: 'string' },
    },
    USAGE,
    io,
  );
  if ('exit' in parsed) return parsed.exit;
  const { values } = parsed;
  const timeoutSeconds = values.timeout === undefined ? undefined : Number(values.timeout);
  if (timeoutSeconds !== undefined && !(Number.isFinite(timeoutSeconds) && timeoutSeconds > 0)) {
    io.stderr(`--timeout must be a number of seconds > 0, got ${JSON.stringify(values.timeout)}\n${USAGE}`);
    return EXIT.usage;
  }
  const config = await loadCommandConfig(values.config, io);
  if (!config) return EXIT.failure;
  const timeZone = config.upload.timezone;
  let window;
  try {
    window = parseIncidentWindow(
      { since: values.since as string | undefined, until: values.until as string | undefined },
      io.now(),
      timeZone,
    );
  } catch (error) {
    if (!(error instanceof IncidentTimeError)) throw error;
    io.stderr(`${error.message}\n${USAGE}`);
    return EXIT.usage;
  }
  const sources = (parsed.values['source'] as unknown as string[] | undefined) ?? [];
  const socket = controlSocketPath(config);
  const ask = async (method: string, path: string, body?: unknown): Promise<ControlAnswer | string> => {
    try {
      return await controlRequest(socket, method, path, body);
    } catch (error) {
      if (error instanceof ControlUnavailableError) return error.message;
      // The daemon closed the connection mid-answer: it is stopping.
      if ((error as NodeJS.ErrnoException).code === 'ECONNRESET') {
        return `The agent closed its control socket ${socket} (it is stopping)`;
      }
      throw error;
    }
  };
  const fail = (message: string, view?: IncidentRequestView): number => {
    if (values.json) printJson(io, { ok: false, error: message, ...(view ? { request: view } : {}) });
    else io.stderr(`${message}\n`);
    return EXIT.failure;
  };

  const created = await ask('POST', '/v1/uploads', { ...window, sources });
  if (typeof created === 'string')
    return fail(`${created}; start it (systemctl start tvm-upload) and try again`);
  if (created.status !== 201) return fail(`The agent refused the upload request: ${refusal(created)}`);
  const request = created.body as IncidentRequestView;
  const range = `${new Date(request.since).toISOString()} .. ${new Date(request.until).toISOString()}`;
  if (!values.json) {
    io.stdout(`Upload request ${request.id}: files modified in ${range} (${request.sources.join(', ')})\n`);
    for (const file of request.files)
      io.stdout(`  ${file.path} (${formatBytes(file.size)}): ${describe(file)}\n`);
    io.stdout(`${summary(request)}\n`);
  }
  if (!values.wait) {
    if (values.json) printJson(io, { ok: true, request });
    else if (request.state !== 'done') io.stdout(`Follow it with --wait, or: tvm-upload queue\n`);
    return EXIT.ok;
  }

  // --wait: until every file is settled (in S3, failed or missing).
  const deadline = timeoutSeconds === undefined ? Infinity : io.now() + timeoutSeconds * 1000;
  const landed = new Set(request.files.filter((f) => f.state === 'already-uploaded').map((f) => f.path));
  const total = request.files.length;
  let view = request;
  for (;;) {
    if (!values.json) {
      for (const file of view.files) {
        if (file.state !== 'uploaded' || landed.has(file.path)) continue;
        landed.add(file.path);
        if (!io.isTty) io.stdout(`uploaded ${file.path} -> ${file.key ?? '?'} (${landed.size}/${total})\n`);
      }
      if (io.isTty) io.stdout(`\r${bar(landed.size, total)} ${landed.size}/${total} file(s) in S3`);
    }
    if (view.state !== 'in-progress') break;
    if (io.now() >= deadline) {
      if (io.isTty && !values.json) io.stdout('\n');
      return fail(
        `Gave up waiting after ${timeoutSeconds} s: ${summary(view)}; the files stay queued in the incident lane (follow with: tvm-upload queue)`,
        view,
      );
    }
    await sleep(POLL_MS);
    const answer = await ask('GET', `/v1/uploads/${encodeURIComponent(request.id)}`);
    if (typeof answer === 'string' || answer.status === 503) {
      if (io.isTty && !values.json) io.stdout('\n');
      return fail(
        `The agent stopped before every file was in S3 (${summary(view)}); queued files stay in the incident lane and go when it runs again`,
        view,
      );
    }
    if (answer.status !== 200) {
      if (io.isTty && !values.json) io.stdout('\n');
      return fail(`The agent lost the upload request: ${refusal(answer)}; ${summary(view)}`, view);
    }
    view = answer.body as IncidentRequestView;
  }
  if (io.isTty && !values.json) io.stdout('\n');
  if (view.state === 'failed') {
    const problems = view.files.filter((f) => f.state === 'failed' || f.state === 'missing');
    if (values.json)
      printJson(io, { ok: false, error: `${problems.length} file(s) not uploaded`, request: view });
    else {
      io.stderr(`Not every file of the window reached S3: ${summary(view)}\n`);
      for (const file of problems) io.stderr(`  ${file.path}: ${describe(file)}\n`);
    }
    return EXIT.failure;
  }
  if (values.json) printJson(io, { ok: true, request: view });
  else io.stdout(`Done: every file of the window is in S3 (${summary(view)})\n`);
  return EXIT.ok;
}

/**
 * `--since -30m` as `--since=-30m`: parseArgs takes a value starting with `-` only in the `=` form, and an offset
 * from now is the most natural way to ask for the last half hour.
 */
export function joinTimeValues(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const next = args[i + 1];
    if ((arg === '--since' || arg === '--until') && next !== undefined && /^-\d/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}

function bar(done: number, total: number, width = 30): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${' '.repeat(width - filled)}]`;
}
