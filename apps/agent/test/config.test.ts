import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AgentError } from '../src/errors.js';
import { loadConfig, parseBandwidth, parseConfig, statePaths } from '../src/config.js';

const env = { HOME: '/home/u', VEHICLE: 'vehicle-CN-042' };
const MINIMAL = `
vehicle_id: vehicle-CN-001
log_directories:
  - path: /logs/a
    source: a
s3:
  bucket: t01logs
  region: cn-north-1
`;

function problemsOf(text: string): string[] {
  try {
    parseConfig(text, { env });
  } catch (error) {
    expect(error).toBeInstanceOf(AgentError);
    expect((error as AgentError).code).toBe('invalid-config');
    return [...(error as AgentError).problems];
  }
  throw new Error('expected the config to be rejected');
}

/** MINIMAL with one more YAML block appended (later keys of the same mapping are merged by hand below). */
function withUpload(block: string): string {
  return `${MINIMAL}upload:\n${block.replace(/^/gm, '  ')}\n`;
}

describe('parseConfig', () => {
  it('fills every default of the old daemon and the new keys', () => {
    const { config, warnings } = parseConfig(MINIMAL, { env });
    expect(warnings).toEqual([]);
    expect(config.log_directories[0]).toEqual({
      path: '/logs/a',
      source: 'a',
      pattern: '*',
      recursive: true,
      allow_deletion: true,
    });
    expect(config.s3).toEqual({
      bucket: 't01logs',
      region: 'cn-north-1',
      credentials_path: '/home/u/.aws',
      force_path_style: false,
      checksum_mode: 'when_supported',
      multipart_threshold_mb: 8,
      part_size_mb: 8,
      concurrency: 4,
      connect_timeout_seconds: 10,
      socket_timeout_seconds: 60,
    });
    expect(config.upload).toEqual({
      schedule: { mode: 'interval', interval_hours: 2, interval_minutes: 0, daily_time: '15:00' },
      file_stable_seconds: 60,
      operational_hours: { enabled: true, start: '09:00', end: '18:00' },
      batch_upload: { enabled: true },
      upload_on_start: true,
      queue_file: '/var/lib/tvm-upload/queue.json',
      failed_file: '/var/lib/tvm-upload/failed.json',
      scan_existing_files: { enabled: true, max_age_days: 3 },
      processed_files_registry: {
        registry_file: '/var/lib/tvm-upload/processed_files.json',
        retention_days: 30,
      },
      retry: { max_retries: 10, initial_delay_seconds: 1, max_delay_seconds: 512 },
      bandwidth_limit: 0,
      order: 'oldest_first',
      abandoned_upload_age_hours: 24,
      timezone: 'local',
    });
    expect(config.deletion).toEqual({
      after_upload: { enabled: true, keep_days: 7 },
      age_based: { enabled: true, max_age_days: 14, schedule_time: '02:00' },
      emergency: { enabled: true, threshold: 0.95 },
    });
    expect(config.disk).toEqual({ reserved_gb: 70, warning_threshold: 0.9, critical_threshold: 0.95 });
    expect(config.monitoring).toEqual({ cloudwatch_enabled: true, publish_interval_seconds: 300 });
  });

  it('expands ${VAR}, $VAR and a leading ~ in every string', () => {
    const { config } = parseConfig(
      `
vehicle_id: \${VEHICLE}
log_directories:
  - path: \${HOME}/.parcel/log/terminal
    source: terminal
  - path: ~/.ros/log
    source: ros
  - path: $HOME/ros2_ws/log
    source: ros2
s3:
  bucket: t01logs
  region: cn-north-1
  credentials_path: ~/aws-files
upload:
  queue_file: ~/state/queue.json
`,
      { env },
    );
    expect(config.vehicle_id).toBe('vehicle-CN-042');
    expect(config.log_directories.map((d) => d.path)).toEqual([
      '/home/u/.parcel/log/terminal',
      '/home/u/.ros/log',
      '/home/u/ros2_ws/log',
    ]);
    expect(config.s3.credentials_path).toBe('/home/u/aws-files');
    expect(statePaths(config)).toEqual({
      stateDir: '/home/u/state',
      queueFile: '/home/u/state/queue.json',
      failedFile: '/home/u/state/failed.json',
      registryFile: '/var/lib/tvm-upload/processed_files.json',
      scheduleFile: '/home/u/state/schedule.json',
    });
  });

  it('warns about an unset variable and leaves it as written', () => {
    const { config, warnings } = parseConfig(MINIMAL.replace('/logs/a', '$NOPE/logs'), { env });
    expect(config.log_directories[0]?.path).toBe('$NOPE/logs');
    expect(warnings).toEqual([
      'log_directories[0].path: environment variable NOPE is not set (left as written)',
    ]);
  });

  it('warns about unknown keys, naming each, and still accepts the config', () => {
    const { config, warnings } = parseConfig(
      `${MINIMAL}  colour: blue\nupload:\n  batch_uplod: true\nextra: 1\n`,
      {
        env,
      },
    );
    expect(config.s3.bucket).toBe('t01logs');
    expect(warnings.sort()).toEqual([
      'extra: unknown key (ignored)',
      's3.colour: unknown key (ignored)',
      'upload.batch_uplod: unknown key (ignored)',
    ]);
  });

  it('accepts the runbook key deletion.emergency.threshold and defaults it to disk.critical_threshold', () => {
    expect(
      parseConfig(`${MINIMAL}deletion:\n  emergency:\n    threshold: 0.9\n`, { env }).config.deletion
        .emergency.threshold,
    ).toBe(0.9);
    expect(
      parseConfig(`${MINIMAL}disk:\n  critical_threshold: 0.97\n`, { env }).config.deletion.emergency
        .threshold,
    ).toBe(0.97);
  });

  it('reads the new keys', () => {
    const { config } = parseConfig(
      `${MINIMAL}  endpoint: http://127.0.0.1:4568
  force_path_style: true
  checksum_mode: when_required
  multipart_threshold_mb: 8
  part_size_mb: 5
  concurrency: 2
upload:
  bandwidth_limit: 2MB/s
  order: newest_first
  timezone: Asia/Shanghai
  failed_file: /data/failed.json
  retry: { max_retries: 3, initial_delay_seconds: 0.01, max_delay_seconds: 1 }
monitoring:
  publish_interval_seconds: 60
`,
      { env },
    );
    expect(config.s3).toMatchObject({
      endpoint: 'http://127.0.0.1:4568',
      force_path_style: true,
      checksum_mode: 'when_required',
      multipart_threshold_mb: 8,
      part_size_mb: 5,
      concurrency: 2,
    });
    expect(config.upload).toMatchObject({
      bandwidth_limit: 2 * 1024 * 1024,
      order: 'newest_first',
      timezone: 'Asia/Shanghai',
      failed_file: '/data/failed.json',
      retry: { max_retries: 3, initial_delay_seconds: 0.01, max_delay_seconds: 1 },
    });
    expect(config.monitoring.publish_interval_seconds).toBe(60);
  });

  it.each([
    ['missing vehicle_id', MINIMAL.replace('vehicle_id: vehicle-CN-001\n', ''), ['vehicle_id: is required']],
    [
      'vehicle_id with a slash',
      MINIMAL.replace('vehicle-CN-001', 'a/b'),
      ['vehicle_id: must be letters, digits, _, . and - (it starts every object key), got "a/b"'],
    ],
    [
      'no directories',
      MINIMAL.replace(/log_directories:\n.*\n.*\n/, 'log_directories: []\n'),
      ['log_directories: must list at least one directory, got an empty list'],
    ],
    [
      'a source with a space',
      MINIMAL.replace('source: a', 'source: "a b"'),
      ['log_directories[0].source: must be letters, digits and _ only, got "a b"'],
    ],
    [
      'a directory without a path',
      MINIMAL.replace('  - path: /logs/a\n    source: a', '  - source: a'),
      ['log_directories[0].path: is required'],
    ],
    [
      'recursive as a string',
      MINIMAL.replace('source: a', 'source: a\n    recursive: "yes"'),
      ['log_directories[0].recursive: must be true or false, got "yes"'],
    ],
    ['no s3 section', MINIMAL.replace(/s3:\n.*\n.*\n/, ''), ['s3: is required']],
    [
      'an empty bucket',
      MINIMAL.replace('bucket: t01logs', 'bucket: ""'),
      ['s3.bucket: must be a bucket name, got ""'],
    ],
    [
      'a bad checksum mode',
      `${MINIMAL}  checksum_mode: always\n`,
      ['s3.checksum_mode: must be when_supported or when_required, got "always"'],
    ],
    [
      'a tiny part size',
      `${MINIMAL}  part_size_mb: 1\n`,
      ['s3.part_size_mb: must be >= 5 (S3 rejects smaller multipart parts), got 1'],
    ],
    [
      'an endpoint that is not a URL',
      `${MINIMAL}  endpoint: localhost\n`,
      ['s3.endpoint: must be a URL such as http://127.0.0.1:4568, got "localhost"'],
    ],
    [
      'an interval under 5 minutes',
      withUpload('schedule:\n  interval_hours: 0\n  interval_minutes: 3'),
      [
        'upload.schedule.interval_minutes: must make an interval between 5 minutes and 24 hours, got interval_hours 0 + interval_minutes 3',
      ],
    ],
    [
      'an interval over 24 hours',
      withUpload('schedule:\n  interval_hours: 24\n  interval_minutes: 30'),
      [
        'upload.schedule.interval_minutes: must make an interval between 5 minutes and 24 hours, got interval_hours 24 + interval_minutes 30',
      ],
    ],
    [
      'a fractional interval',
      withUpload('schedule:\n  interval_hours: 1.5'),
      ['upload.schedule.interval_hours: must be an integer, got 1.5'],
    ],
    [
      'an unknown mode',
      withUpload('schedule:\n  mode: hourly'),
      ['upload.schedule.mode: must be interval or daily, got "hourly"'],
    ],
    [
      'a daily time of 25:00',
      withUpload('schedule:\n  daily_time: "25:00"'),
      ['upload.schedule.daily_time: must be a time HH:MM (24-hour clock), got "25:00"'],
    ],
    [
      'a negative stability',
      withUpload('file_stable_seconds: -5'),
      ['upload.file_stable_seconds: must be an integer >= 0, got -5'],
    ],
    [
      'hours as a number',
      withUpload('operational_hours:\n  start: 9'),
      ['upload.operational_hours.start: must be a time HH:MM (24-hour clock), got 9'],
    ],
    [
      'a negative retry budget',
      withUpload('retry:\n  max_retries: -1'),
      ['upload.retry.max_retries: must be an integer >= 0, got -1'],
    ],
    [
      'a max delay under the first delay',
      withUpload('retry:\n  initial_delay_seconds: 10\n  max_delay_seconds: 5'),
      ['upload.retry.max_delay_seconds: must be >= upload.retry.initial_delay_seconds (10), got 5'],
    ],
    [
      'a bandwidth word',
      withUpload('bandwidth_limit: fast'),
      ['upload.bandwidth_limit: must be a rate such as "2MB/s", or 0 for unlimited, got "fast"'],
    ],
    [
      'an unknown order',
      withUpload('order: random'),
      ['upload.order: must be oldest_first or newest_first, got "random"'],
    ],
    [
      'an unknown time zone',
      withUpload('timezone: Mars/Olympus'),
      ['upload.timezone: must be local or an IANA time zone name such as Asia/Shanghai, got "Mars/Olympus"'],
    ],
    [
      'max_age_days of zero',
      withUpload('scan_existing_files:\n  max_age_days: 0'),
      ['upload.scan_existing_files.max_age_days: must be a number > 0, got 0'],
    ],
    [
      'a threshold as a percentage',
      `${MINIMAL}deletion:\n  emergency:\n    threshold: 95\n`,
      ['deletion.emergency.threshold: must be a fraction between 0 and 1 (e.g. 0.95), got 95'],
    ],
    [
      'a negative keep_days',
      `${MINIMAL}deletion:\n  after_upload:\n    keep_days: -1\n`,
      ['deletion.after_upload.keep_days: must be a number >= 0, got -1'],
    ],
    [
      'warning above critical',
      `${MINIMAL}disk:\n  warning_threshold: 0.99\n`,
      ['disk.warning_threshold: must be <= disk.critical_threshold (0.95), got 0.99'],
    ],
    [
      'a tiny publish interval',
      `${MINIMAL}monitoring:\n  publish_interval_seconds: 1\n`,
      ['monitoring.publish_interval_seconds: must be an integer >= 10, got 1'],
    ],
    [
      'upload as a list',
      `${MINIMAL}upload: [1]\n`,
      ['upload: must be valid (Invalid input: expected object, received array), got a list'],
    ],
  ])('rejects %s, naming the key path', (_name, text, expected) => {
    expect(problemsOf(text)).toEqual(expected);
  });

  it('reports every problem at once, including duplicate sources', () => {
    const problems = problemsOf(`
vehicle_id: 7
log_directories:
  - path: /a
    source: ros
  - path: /b
    source: ros
s3:
  region: cn-north-1
upload:
  schedule: { interval_hours: 0, interval_minutes: 1 }
  order: sideways
`);
    expect(problems).toEqual([
      'vehicle_id: must be a string, got 7',
      'log_directories[1].source: must be unique, got "ros" again (already used by log_directories[0])',
      's3.bucket: is required',
      'upload.schedule.interval_minutes: must make an interval between 5 minutes and 24 hours, got interval_hours 0 + interval_minutes 1',
      'upload.order: must be oldest_first or newest_first, got "sideways"',
    ]);
  });

  it('reports a YAML syntax error with its line', () => {
    const [first] = problemsOf('vehicle_id: a\ns3: {bucket: [\n');
    expect(first).toMatch(/^\(YAML syntax\): .* at line \d+, column \d+/);
  });

  it('rejects a document that is not a mapping', () => {
    expect(problemsOf('- a\n- b\n')).toEqual([
      '(root): must be a mapping of keys such as vehicle_id, log_directories, s3',
    ]);
  });
});

describe('parseBandwidth', () => {
  it.each([
    ['2MB/s', 2 * 1024 ** 2],
    ['500KB/s', 500 * 1024],
    ['1.5 MiB/s', 1.5 * 1024 ** 2],
    ['1GB', 1024 ** 3],
    ['1000', 1000],
    [0, 0],
    [4096, 4096],
  ])('reads %s', (input, bytes) => {
    expect(parseBandwidth(input)).toBe(bytes);
  });
  it.each(['fast', '2 MB/min', '-1MB/s', ''])('rejects %s', (input) => {
    expect(parseBandwidth(input)).toBeUndefined();
  });
});

describe('loadConfig', () => {
  it('reads a file and reports an unreadable one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agent-config-'));
    await writeFile(join(dir, 'config.yaml'), MINIMAL);
    expect((await loadConfig(join(dir, 'config.yaml'), { env })).config.vehicle_id).toBe('vehicle-CN-001');
    await expect(loadConfig(join(dir, 'missing.yaml'), { env })).rejects.toMatchObject({
      code: 'config-unreadable',
    });
  });
});
