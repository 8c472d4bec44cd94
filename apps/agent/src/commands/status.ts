import type { AgentConfig } from '../config.js';
import { formatMB } from '../links/budget.js';
import { describeState, type BandwidthState } from '../bandwidth/controller.js';
import { describeEntry, describeLimit, formatRate, limitAt } from '../bandwidth/timetable.js';
import { controlRequest, controlSocketPath } from '../control/index.js';
import { localParts } from '../object-key.js';
import { diskGuardFor } from './disk.js';
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
  type CommandIo,
} from './shared.js';
import { readOpsState, type OpsState } from './state.js';

const USAGE = `Usage: tvm-upload status [--config <path>] [--json]
Shows the agent's state: queue depth and bytes pending, the oldest pending file, the next scheduled run, whether
uploads are online or paused (and why), the bandwidth limit in force, the failed list, the last upload, the link to
S3 and the metered budget (with upload.networks), disk usage and buffered metrics.
Works while the agent runs (reads its files without locking them) and when it does not.
`;

/** An agent status file older than this, while the lock says the agent lives, is reported as stale. */
const STALE_STATUS_MS = 10 * 60_000;

/** `tvm-upload status`. Exit 0, or 1 when the config is invalid. */
export async function statusCommand(args: string[], io: CommandIo = processIo): Promise<number> {
  const parsed = parseCommandArgs(args, {}, USAGE, io);
  if ('exit' in parsed) return parsed.exit;
  const config = await loadCommandConfig(parsed.values.config, io);
  if (!config) return EXIT.failure;
  const state = await readOpsState(config);
  const report = await buildStatus(config, state, io.now());
  if (parsed.values.json) printJson(io, report);
  else io.stdout(renderStatus(report, io.now(), config.upload.networks !== undefined));
  return EXIT.ok;
}

/** The status report (`--json` prints it as is; times are ISO strings). */
export interface StatusReport {
  vehicleId: string;
  agent: { running: boolean; pid: number | null; startedAt: string | null; statusUpdatedAt: string | null };
  queue: {
    files: number;
    bytes: number;
    dueNow: number;
    waitingForRetry: number;
    oldest: { filepath: string; detectedAt: string; ageSeconds: number } | null;
  };
  nextScheduledRun: { at: string | null; description: string };
  destination: { state: string; reason: string | null; since: string | null };
  failed: { files: number };
  /** The bandwidth limit in force (asked of the running agent; from the config when it does not answer). */
  bandwidth: {
    bytesPerSecond: number;
    rate: string;
    source: string;
    entry: string | null;
    until: string | null;
    configured: string;
    description: string;
  };
  lastUpload: { at: string; filepath: string; key: string | null } | null;
  disk: Array<{
    path: string;
    usedPercent: number;
    freeBytes: number;
    totalBytes: number;
    level: string;
    directories: string[];
  }>;
  diskProblems: string[];
  metricsBuffered: number | null;
  /**
   * The link to S3 as the running agent last saw it (`upload.networks`): the interface of the route to the endpoint,
   * its class, and today's metered budget in bytes. Null without `upload.networks` or when the agent is not reporting.
   */
  network: {
    interface: string | null;
    class: string;
    budgetBytes: number;
    usedBytes: number;
    leftBytes: number;
    meteredLanes: string[];
  } | null;
  /** Set while the state files cannot be written (changes wait in memory). */
  stateWriteProblem: { error: string; since: string | null } | null;
  warnings: string[];
}

async function buildStatus(config: AgentConfig, state: OpsState, now: number): Promise<StatusReport> {
  const { snapshot, agentStatus } = state;
  const queue = snapshot.queue;
  const oldest = queue.reduce<(typeof queue)[number] | undefined>(
    (a, e) => (!a || e.detectedAt < a.detectedAt ? e : a),
    undefined,
  );
  const lastRegistry = snapshot.registry.reduce<(typeof snapshot.registry)[number] | undefined>(
    (a, e) => (!a || e.uploadedAt > a.uploadedAt ? e : a),
    undefined,
  );
  const lastUpload =
    agentStatus?.lastUpload && (!lastRegistry || agentStatus.lastUpload.at >= lastRegistry.uploadedAt)
      ? {
          at: agentStatus.lastUpload.at,
          filepath: agentStatus.lastUpload.filepath,
          key: agentStatus.lastUpload.key,
        }
      : lastRegistry
        ? { at: lastRegistry.uploadedAt, filepath: lastRegistry.filepath, key: lastRegistry.key }
        : undefined;
  const usage = await diskGuardFor(config).usage();
  const warnings = [...snapshot.warnings];
  if (agentStatus && now - agentStatus.updatedAt > STALE_STATUS_MS) {
    warnings.push(`the agent's status file is ${formatDuration(now - agentStatus.updatedAt)} old`);
  }
  const running = state.agentPid !== undefined;
  return {
    vehicleId: config.vehicle_id,
    agent: {
      running,
      pid: state.agentPid ?? null,
      startedAt: iso(agentStatus?.startedAt) ?? null,
      statusUpdatedAt: iso(agentStatus?.updatedAt) ?? null,
    },
    queue: {
      files: queue.length,
      bytes: queue.reduce((sum, e) => sum + (e.size ?? 0), 0),
      dueNow: queue.filter((e) => e.nextAttemptAt <= now).length,
      waitingForRetry: queue.filter((e) => e.nextAttemptAt > now).length,
      oldest: oldest
        ? {
            filepath: oldest.filepath,
            detectedAt: iso(oldest.detectedAt) ?? '',
            ageSeconds: Math.round((now - oldest.detectedAt) / 1000),
          }
        : null,
    },
    nextScheduledRun: nextRun(config, agentStatus?.nextRunAt, running, now),
    destination: agentStatus
      ? {
          state: agentStatus.destination.state,
          reason: agentStatus.destination.reason ?? null,
          since: iso(agentStatus.destination.since) ?? null,
        }
      : { state: running ? 'unknown' : 'agent not running', reason: null, since: null },
    failed: { files: snapshot.failed.length },
    bandwidth: await bandwidthInForce(config, running, now),
    lastUpload: lastUpload
      ? { at: iso(lastUpload.at) ?? '', filepath: lastUpload.filepath, key: lastUpload.key ?? null }
      : null,
    disk: usage.filesystems.map((fs) => ({
      path: fs.path,
      usedPercent: Math.round(fs.usedFraction * 1000) / 10,
      freeBytes: fs.freeBytes,
      totalBytes: fs.totalBytes,
      level: fs.level,
      directories: fs.directories,
    })),
    diskProblems: usage.problems.map((p) => p.message),
    metricsBuffered: agentStatus?.metricsBuffered ?? null,
    network:
      config.upload.networks && agentStatus?.network
        ? {
            interface: agentStatus.network.iface,
            class: agentStatus.network.class,
            budgetBytes: agentStatus.network.budgetBytes,
            usedBytes: agentStatus.network.usedBytes,
            leftBytes: agentStatus.network.leftBytes,
            meteredLanes: agentStatus.network.meteredLanes,
          }
        : null,
    stateWriteProblem: agentStatus?.stateWriteProblem
      ? {
          error: agentStatus.stateWriteProblem.error,
          since: iso(agentStatus.stateWriteProblem.since) ?? null,
        }
      : null,
    warnings,
  };
}

/** The running agent's limit (its control socket), else what the config sets now. */
async function bandwidthInForce(
  config: AgentConfig,
  running: boolean,
  now: number,
): Promise<StatusReport['bandwidth']> {
  let state: BandwidthState | undefined;
  if (running) {
    const answer = await controlRequest(
      controlSocketPath(config),
      'GET',
      '/v1/bandwidth',
      undefined,
      3_000,
    ).catch(() => undefined);
    if (answer?.status === 200) state = answer.body as BandwidthState;
  }
  let description: string;
  if (state) {
    description = describeState(state);
  } else {
    const limit = config.upload.bandwidth_limit;
    const scheduled = limitAt(limit, now, config.upload.timezone);
    state = {
      bytesPerSecond: scheduled.bytesPerSecond,
      rate: formatRate(scheduled.bytesPerSecond),
      source: scheduled.entry === undefined ? 'config' : 'timetable',
      ...(scheduled.entry === undefined ? {} : { entry: describeEntry(limit.entries[scheduled.entry]!) }),
      ...(scheduled.nextBoundaryAt === undefined ? {} : { until: scheduled.nextBoundaryAt }),
      configured: describeLimit(limit),
      timeZone: config.upload.timezone,
    };
    description = `${describeState(state)} per the config${running ? ' (the agent did not say)' : ''}`;
  }
  return {
    bytesPerSecond: state.bytesPerSecond,
    rate: state.rate,
    source: state.source,
    entry: state.entry ?? null,
    until: iso(state.until) ?? null,
    configured: state.configured,
    description,
  };
}

function nextRun(
  config: AgentConfig,
  known: number | undefined,
  running: boolean,
  now: number,
): StatusReport['nextScheduledRun'] {
  const schedule = config.upload.schedule;
  const every =
    schedule.mode === 'daily'
      ? `daily at ${schedule.daily_time}`
      : `every ${schedule.interval_hours} h ${schedule.interval_minutes} min`;
  if (known !== undefined)
    return { at: iso(known) ?? null, description: `${every}; next in ${formatDuration(known - now)}` };
  if (!running) return { at: null, description: `${every} (agent not running)` };
  if (schedule.mode === 'daily') {
    // The agent did not say: the next daily_time in the configured time zone.
    const tz =
      config.upload.timezone === 'local'
        ? Intl.DateTimeFormat().resolvedOptions().timeZone
        : config.upload.timezone;
    const { minuteOfDay } = localParts(now, tz);
    const [h, m] = schedule.daily_time.split(':').map(Number);
    let delta = ((h ?? 0) * 60 + (m ?? 0) - minuteOfDay) * 60_000;
    if (delta <= 0) delta += 24 * 60 * 60_000;
    const at = Math.floor((now + delta) / 60_000) * 60_000;
    return { at: iso(at) ?? null, description: `${every}; next in about ${formatDuration(at - now)}` };
  }
  return { at: null, description: every };
}

function renderStatus(r: StatusReport, now: number, networks: boolean): string {
  const lines: string[] = [];
  const agent = r.agent.running ? `running (pid ${r.agent.pid})` : 'not running';
  lines.push(`tvm-upload status for ${r.vehicleId}: agent ${agent}`);
  const dest = r.destination.reason ? `${r.destination.state}: ${r.destination.reason}` : r.destination.state;
  lines.push(
    `  destination:   ${dest}${r.destination.since ? ` (since ${localTime(Date.parse(r.destination.since))})` : ''}`,
  );
  lines.push(
    `  queue:         ${r.queue.files} file(s), ${formatBytes(r.queue.bytes)} pending (${r.queue.dueNow} due now, ${r.queue.waitingForRetry} waiting to retry)`,
  );
  if (r.queue.oldest) {
    lines.push(
      `  oldest:        ${r.queue.oldest.filepath} (queued ${formatDuration(r.queue.oldest.ageSeconds * 1000)} ago)`,
    );
  }
  lines.push(`  next run:      ${r.nextScheduledRun.description}`);
  lines.push(`  bandwidth:     ${r.bandwidth.description}`);
  lines.push(`  failed:        ${r.failed.files} file(s)${r.failed.files > 0 ? ' (tvm-upload failed)' : ''}`);
  lines.push(
    `  last upload:   ${r.lastUpload ? `${localTime(Date.parse(r.lastUpload.at))} (${formatDuration(now - Date.parse(r.lastUpload.at))} ago) ${r.lastUpload.filepath}` : 'none recorded'}`,
  );
  if (r.network) {
    const n = r.network;
    lines.push(
      `  link:          ${n.interface ?? 'no route to S3'} (${n.class}); metered budget ${formatMB(n.leftBytes)} of ${formatMB(n.budgetBytes)} left today (metered lanes: ${n.meteredLanes.join(', ') || 'none'}, and incident)`,
    );
  } else if (networks) {
    lines.push('  link:          unknown (agent not reporting)');
  }
  for (const fs of r.disk) {
    lines.push(
      `  disk:          ${fs.path} ${fs.usedPercent}% used, ${formatBytes(fs.freeBytes)} free (${fs.level})`,
    );
  }
  for (const problem of r.diskProblems) lines.push(`  disk:          ${problem}`);
  lines.push(
    `  metrics:       ${r.metricsBuffered === null ? 'unknown (agent not reporting)' : `${r.metricsBuffered} point(s) buffered`}`,
    ...(r.stateWriteProblem
      ? [
          `  state:         CANNOT WRITE (${r.stateWriteProblem.error}); changes wait in memory and are retried`,
        ]
      : []),
  );
  for (const warning of r.warnings) lines.push(`  warning:       ${warning}`);
  return `${lines.join('\n')}\n`;
}
