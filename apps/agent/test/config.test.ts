import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AgentError } from '../src/errors.js';
import {
  checkConfigText,
  editDistance,
  loadConfig,
  nearestKey,
  parseBandwidth,
  parseConfig,
  statePaths,
} from '../src/config.js';
import { MINIMAL_CONFIG as MINIMAL } from './fakes.js';

const env = { HOME: '/home/u', VEHICLE: 'vehicle-CN-042' };

/** The problems `text` is rejected with, each without its location (tested on its own below). */
function problemsOf(text: string): string[] {
  try {
    parseConfig(text, { env });
  } catch (error) {
    expect(error).toBeInstanceOf(AgentError);
    expect((error as AgentError).code).toBe('invalid-config');
    return (error as AgentError).problems.map(unlocated);
  }
  throw new Error('expected the config to be rejected');
}

const unlocated = (line: string) => line.replace(/ \(line \d+, column \d+\)/, '');

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
      compress: 'none',
      priority: 'normal',
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
      tags: {},
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
      bandwidth_limit: { rate: 0, entries: [] },
      order: 'oldest_first',
      priority_rules: [],
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
      'log_directories[0].path (line 4, column 11): environment variable NOPE is not set (left as written)',
    ]);
  });

  it('warns about unknown keys, naming each, and still accepts the config', () => {
    const { config, warnings } = parseConfig(`${MINIMAL}  colour: blue\nupload:\n  batch: true\nextra: 1\n`, {
      env,
    });
    expect(config.s3.bucket).toBe('t01logs');
    expect(warnings.map(unlocated).sort()).toEqual([
      'extra: unknown key (ignored)',
      's3.colour: unknown key (ignored)',
      'upload.batch: unknown key (ignored)',
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
      bandwidth_limit: { rate: 2 * 1024 * 1024, entries: [] },
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
      [
        'upload.bandwidth_limit: must be a rate such as "2MB/s", 0 or off for unlimited, or a timetable such as "08:00,512KiB/s 23:00,off", got "fast"',
      ],
    ],
    [
      'a bad timetable entry',
      withUpload('bandwidth_limit: "08:00,512KiB/s 25:00,off"'),
      [
        'upload.bandwidth_limit: must be a valid timetable: entry "25:00,off" has a time outside 00:00 to 23:59, got "08:00,512KiB/s 25:00,off"',
      ],
    ],
    [
      'an unknown order',
      withUpload('order: random'),
      ['upload.order: must be oldest_first or newest_first, got "random"'],
    ],
    [
      'an unknown directory priority',
      MINIMAL.replace('    source: a', '    source: a\n    priority: urgent'),
      ['log_directories[0].priority: must be one of high, normal, low, got "urgent"'],
    ],
    [
      'a priority rule without its priority',
      withUpload('priority_rules:\n  - pattern: "*.crash"'),
      ['upload.priority_rules[0].priority: must be one of high, normal, low'],
    ],
    [
      'a priority rule with an empty pattern',
      withUpload('priority_rules:\n  - pattern: ""\n    priority: high'),
      ['upload.priority_rules[0].pattern: must be a glob on the file name, got ""'],
    ],
    [
      'priority rules that are not a list',
      withUpload('priority_rules: high'),
      ['upload.priority_rules: must be a list of { pattern, priority }, got "high"'],
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
      'a storage class S3 does not have',
      MINIMAL.replace('  region: cn-north-1', '  region: cn-north-1\n  storage_class: COLD'),
      [
        's3.storage_class: must be one of STANDARD, STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING, GLACIER_IR, GLACIER, DEEP_ARCHIVE, REDUCED_REDUNDANCY, got "COLD"',
      ],
    ],
    [
      'a KMS key with AES256',
      MINIMAL.replace(
        '  region: cn-north-1',
        '  region: cn-north-1\n  sse: { mode: AES256, kms_key_id: alias/x }',
      ),
      ['s3.sse.kms_key_id: must be left out unless mode is aws:kms, got "alias/x"'],
    ],
    [
      'a tag value with a stray placeholder',
      MINIMAL.replace('  region: cn-north-1', '  region: cn-north-1\n  tags: { fleet: "{fleet}" }'),
      [
        's3.tags.fleet: must be letters, digits, spaces, + - = . _ : / @ and the placeholders {vehicle} and {source}, got "{fleet}"',
      ],
    ],
    [
      'upload as a list',
      `${MINIMAL}upload: [1]\n`,
      ['upload: must be valid (Invalid input: expected object, received array), got a list'],
    ],
  ])('rejects %s, naming the key path and its line', (_name, text, expected) => {
    expect(problemsOf(text)).toEqual(expected);
    const { problems } = checkConfigText(text, { env });
    for (const problem of problems) {
      expect(problem.line).toBeGreaterThan(0);
      expect(problem.column).toBeGreaterThan(0);
    }
  });

  it('reads the object governance keys', () => {
    const { config } = parseConfig(
      MINIMAL.replace(
        '  region: cn-north-1',
        '  region: cn-north-1\n  storage_class: STANDARD_IA\n  sse: { mode: "aws:kms", kms_key_id: alias/tvm, bucket_key: true }\n  tags: { vehicle: "{vehicle}", source: "{source}", fleet: beijing-01 }',
      ),
      { env },
    );
    expect(config.s3).toMatchObject({
      storage_class: 'STANDARD_IA',
      sse: { mode: 'aws:kms', kms_key_id: 'alias/tvm', bucket_key: true },
      tags: { vehicle: '{vehicle}', source: '{source}', fleet: 'beijing-01' },
    });
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

  it('reports a YAML syntax error whole, with its line and code frame', () => {
    const [first] = problemsOf('vehicle_id: a\ns3: {bucket: [\n');
    expect(first).toBe(
      '(YAML syntax): Flow sequence in block collection must be sufficiently indented and end with a ] at line 3, column 1:\n\ns3: {bucket: [\n\n^',
    );
    expect(checkConfigText('vehicle_id: a\ns3: {bucket: [\n').problems[0]).toMatchObject({
      key: '(YAML syntax)',
      line: 3,
      column: 1,
    });
  });

  it('names the line and column of each problem', () => {
    const text = `${MINIMAL}upload:\n  retry:\n    max_retries: -1\ndeletion:\n  after_upload: { keep_days: x }\n`;
    expect(checkConfigText(text, { env }).problems).toEqual([
      { key: 'upload.retry.max_retries', line: 11, column: 18, message: 'must be an integer >= 0, got -1' },
      { key: 'deletion.after_upload.keep_days', line: 13, column: 30, message: 'must be a number, got "x"' },
    ]);
    expect(() => parseConfig(text, { env })).toThrow(
      expect.objectContaining({
        problems: [
          'upload.retry.max_retries (line 11, column 18): must be an integer >= 0, got -1',
          'deletion.after_upload.keep_days (line 13, column 30): must be a number, got "x"',
        ],
      }),
    );
  });

  it('points a missing key at the mapping that lacks it', () => {
    expect(checkConfigText(MINIMAL.replace('  bucket: t01logs\n', ''), { env }).problems).toEqual([
      { key: 's3.bucket', line: 7, column: 3, message: 'is required' },
    ]);
  });

  it('rejects a key within two edits of a known key, with a suggestion, and applies no default', () => {
    const text = `${MINIMAL}deletion:\n  after_upload:\n    keep_dayz: 30\nupload:\n  file_stabel_seconds: 5\n`;
    expect(checkConfigText(text, { env })).toEqual({
      problems: [
        {
          key: 'deletion.after_upload.keep_dayz',
          line: 11,
          column: 5,
          message: 'unknown key; did you mean `keep_days`?',
        },
        {
          key: 'upload.file_stabel_seconds',
          line: 13,
          column: 3,
          message: 'unknown key; did you mean `file_stable_seconds`?',
        },
      ],
      warnings: [],
    });
  });

  it('still reports the other problems beside a misspelt key', () => {
    expect(problemsOf(`${MINIMAL}upload:\n  ordr: newest_first\n  file_stable_seconds: -1\n`)).toEqual([
      'upload.ordr: unknown key; did you mean `order`?',
      'upload.file_stable_seconds: must be an integer >= 0, got -1',
    ]);
  });

  it("loads the old daemon's configuration as written, without a warning", () => {
    // original-system.md writes s3 as a flow mapping; \${HOME} inside one is not valid YAML (PyYAML refuses it
    // too), so the daemon's real files write s3 as a block, as here.
    const old = `vehicle_id: "vehicle-CN-001"
log_directories:
  - path: \${HOME}/.parcel/log/terminal
    source: terminal
  - path: \${HOME}/.ros/log
    source: ros
  - path: /var/log
    source: syslog
    pattern: "syslog.[1-9]*"
    recursive: false
    allow_deletion: false
  - path: \${HOME}/ros2_ws/log
    source: ros2
s3:
  bucket: t01logs
  region: cn-north-1
  profile: china
  credentials_path: \${HOME}/.aws
upload:
  schedule: { mode: interval, interval_hours: 2, interval_minutes: 0, daily_time: "15:00" }
  file_stable_seconds: 60
  operational_hours: { enabled: true, start: "09:00", end: "18:00" }
  batch_upload: { enabled: true }
  upload_on_start: true
  queue_file: /var/lib/tvm-upload/queue.json
  scan_existing_files: { enabled: true, max_age_days: 3 }
  processed_files_registry: { registry_file: /var/lib/tvm-upload/processed_files.json, retention_days: 30 }
deletion:
  after_upload: { enabled: true, keep_days: 7 }
  age_based: { enabled: true, max_age_days: 14, schedule_time: "02:00" }
  emergency: { enabled: true, threshold: 0.95 }
disk: { reserved_gb: 70, warning_threshold: 0.90, critical_threshold: 0.95 }
monitoring: { cloudwatch_enabled: true }
`;
    expect(checkConfigText(old, { env })).toMatchObject({ problems: [], warnings: [] });
  });

  it('rejects a document that is not a mapping', () => {
    expect(problemsOf('- a\n- b\n')).toEqual([
      '(root): must be a mapping of keys such as vehicle_id, log_directories, s3',
    ]);
  });
});

describe('parseConfig (AWS settings from the environment and the profile)', () => {
  const NO_REGION = MINIMAL.replace('  region: cn-north-1\n', '');

  async function awsDir(config: string): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'tvm-aws-'));
    await writeFile(join(dir, 'config'), config);
    return dir;
  }

  it('takes AWS_REGION when s3.region is absent, and s3.region over it', () => {
    expect(parseConfig(NO_REGION, { env: { ...env, AWS_REGION: 'cn-northwest-1' } }).config.s3.region).toBe(
      'cn-northwest-1',
    );
    expect(parseConfig(MINIMAL, { env: { ...env, AWS_REGION: 'cn-northwest-1' } }).config.s3.region).toBe(
      'cn-north-1',
    );
  });

  it('says where a region may come from when none does', () => {
    expect(checkConfigText(NO_REGION, { env }).problems).toEqual([
      {
        key: 's3.region',
        line: 7,
        column: 3,
        message: 'is required: set s3.region, or AWS_REGION, or region in [default] of /home/u/.aws/config',
      },
    ]);
  });

  it("reads the profile's region, endpoint_url and ca_bundle from the config file beside credentials_path", async () => {
    const dir = await awsDir(
      '[default]\nregion = us-east-1\n\n[profile china]\nregion = cn-north-1\nendpoint_url = https://s3.internal:9000\nca_bundle = /etc/ssl/internal-ca.pem\n  s3 =\n    addressing_style = path\n',
    );
    const text = `${NO_REGION}  profile: china\n  credentials_path: ${dir}\n`;
    expect(parseConfig(text, { env }).config.s3).toMatchObject({
      region: 'cn-north-1',
      endpoint: 'https://s3.internal:9000',
      ca_bundle: '/etc/ssl/internal-ca.pem',
    });
    const defaults = parseConfig(`${NO_REGION}  credentials_path: ${dir}\n`, { env }).config.s3;
    expect(defaults.region).toBe('us-east-1');
    expect(defaults.endpoint).toBeUndefined();
  });

  it('lets s3.endpoint and s3.ca_bundle win over the profile, and AWS_CA_BUNDLE over the profile', async () => {
    const dir = await awsDir(
      '[profile china]\nendpoint_url = https://s3.internal:9000\nca_bundle = /profile.pem\n',
    );
    const base = `${MINIMAL}  profile: china\n  credentials_path: ${dir}\n`;
    const withEnv = { env: { ...env, AWS_CA_BUNDLE: '/env.pem' } };
    expect(parseConfig(base, withEnv).config.s3.ca_bundle).toBe('/env.pem');
    expect(parseConfig(base, { env }).config.s3.ca_bundle).toBe('/profile.pem');
    const own = `${base}  endpoint: http://127.0.0.1:4568\n  ca_bundle: /own.pem\n`;
    expect(parseConfig(own, withEnv).config.s3).toMatchObject({
      endpoint: 'http://127.0.0.1:4568',
      ca_bundle: '/own.pem',
    });
  });
});

describe('editDistance and nearestKey', () => {
  it.each([
    ['keep_days', 'keep_days', 0],
    ['keep_dayz', 'keep_days', 1],
    ['keep_dyas', 'keep_days', 1],
    ['kep_dayz', 'keep_days', 2],
    ['colour', 'concurrency', 7],
  ])('counts %s -> %s as %i edits', (a, b, distance) => {
    expect(editDistance(a, b)).toBe(distance);
  });

  it('suggests only a key within two edits', () => {
    expect(nearestKey('keep_dayz', ['enabled', 'keep_days'])).toBe('keep_days');
    expect(nearestKey('kep_days', ['enabled', 'keep_days'])).toBe('keep_days');
    expect(nearestKey('retention', ['enabled', 'keep_days'])).toBeUndefined();
    expect(nearestKey('ab', ['end'])).toBeUndefined();
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
