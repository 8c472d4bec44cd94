import { describeLimit } from './bandwidth/timetable.js';
import type { AgentConfig } from './config.js';
import { parseListen } from './monitoring/listen.js';

function isLoopbackListen(listen: string): boolean {
  const parsed = parseListen(listen);
  return !('problem' in parsed) && parsed.loopback;
}

/** A short human summary of a valid config (what `check-config` prints): one fact per line. */
export function describeConfig(config: AgentConfig): string[] {
  const { s3, upload, deletion } = config;
  const lines = [
    `vehicle: ${config.vehicle_id}`,
    `bucket: ${s3.bucket} (region ${s3.region}${s3.profile ? `, profile ${s3.profile}` : ''}${s3.endpoint ? `, endpoint ${s3.endpoint}` : ''}${s3.ca_bundle ? `, CA bundle ${s3.ca_bundle}` : ''})`,
  ];
  const tags = Object.entries(s3.tags).map(([name, value]) => `${name}=${value}`);
  const sse =
    s3.sse === undefined
      ? 'bucket default'
      : `${s3.sse.mode}${s3.sse.kms_key_id ? ` key ${s3.sse.kms_key_id}` : ''}${s3.sse.bucket_key ? ', bucket key' : ''}`;
  lines.push(
    `objects: storage class ${s3.storage_class ?? 'bucket default (STANDARD)'}; encryption ${sse}; tags ${tags.length > 0 ? tags.join(', ') : 'none'}`,
    'directories:',
  );
  for (const dir of config.log_directories) {
    const flags = [
      `pattern ${dir.pattern}`,
      dir.recursive ? 'recursive' : 'not recursive',
      dir.allow_deletion ? 'deletion allowed' : 'never deleted',
      `priority ${dir.priority}`,
    ];
    if (dir.compress !== 'none') flags.push(`compressed with ${dir.compress}`);
    lines.push(`  ${dir.source}: ${dir.path} (${flags.join(', ')})`);
  }
  const schedule =
    upload.schedule.mode === 'daily'
      ? `daily at ${upload.schedule.daily_time}`
      : `every ${upload.schedule.interval_hours} h ${upload.schedule.interval_minutes} min`;
  const hours = upload.operational_hours.enabled
    ? `operational hours ${upload.operational_hours.start}-${upload.operational_hours.end}`
    : 'no operational hours (immediate uploads any time)';
  lines.push(
    `schedule: ${schedule}; ${hours}; ${upload.upload_on_start ? 'uploads on start' : 'no upload on start'}; stable after ${upload.file_stable_seconds} s`,
  );
  lines.push(
    `lanes: ${upload.priority_rules.length > 0 ? upload.priority_rules.map((rule) => `${rule.pattern} -> ${rule.priority}`).join(', ') : 'no priority rules'} (first match wins over the directory's priority); ${upload.order} within a lane`,
  );
  const limit = upload.bandwidth_limit;
  lines.push(
    limit.entries.length > 0
      ? `bandwidth limit: timetable ${describeLimit(limit)} (times in ${upload.timezone}; before the first, the last holds)`
      : `bandwidth limit: ${limit.rate === 0 ? 'none' : describeLimit(limit)}`,
  );
  const policies: string[] = [];
  if (deletion.after_upload.enabled)
    policies.push(`after upload, keep ${deletion.after_upload.keep_days} days`);
  if (deletion.age_based.enabled) {
    policies.push(
      `age-based over ${deletion.age_based.max_age_days} days at ${deletion.age_based.schedule_time}`,
    );
  }
  if (deletion.emergency.enabled)
    policies.push(`emergency at ${Math.round(deletion.emergency.threshold * 100)}% disk use`);
  lines.push(`deletion: ${policies.length > 0 ? policies.join('; ') : 'disabled'}`);
  const http = config.monitoring.http;
  lines.push(
    `monitoring endpoint: ${http ? `http://${http.listen}/metrics and /healthz${isLoopbackListen(http.listen) ? '' : ' (NOT loopback: reachable from the network)'}` : 'off'}`,
  );
  const networks = upload.networks;
  lines.push(
    networks
      ? `networks: metered ${networks.metered.join(', ') || '(none)'}; unmetered ${networks.unmetered.join(', ') || '(none)'}; on metered links only ${networks.metered_lanes.join(', ') || 'no lane'} (and incident), ${networks.metered_daily_budget_mb} MB a day`
      : 'networks: no metered links (upload.networks not set)',
  );
  lines.push(
    `state: ${upload.queue_file}, ${upload.failed_file}, ${upload.processed_files_registry.registry_file}`,
  );
  return lines;
}
