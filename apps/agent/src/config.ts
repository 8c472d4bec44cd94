import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { profileSettings } from './adapters/aws-profile.js';
import { AgentError } from './errors.js';
import { expandAll, type ExpandContext } from './expand.js';
import { DEFAULT_LISTEN, parseListen } from './monitoring/listen.js';
import { LANES, PRIORITIES, type Lane, type Priority } from './lanes.js';
import { parseBandwidthLimit, parseRate, type BandwidthLimit } from './bandwidth/timetable.js';

/** Where systemd's unit and the runbook expect the configuration. */
export const DEFAULT_CONFIG_PATH = '/etc/tvm-upload/config.yaml';

const TIME = /^([01]\d|2[0-3]):[0-5]\d$/;
const time = (fallback: string) =>
  z
    .string({ error: 'must be a time HH:MM (24-hour clock)' })
    .regex(TIME, { error: 'must be a time HH:MM (24-hour clock)' })
    .default(fallback);
const bool = (fallback: boolean) => z.boolean({ error: 'must be true or false' }).default(fallback);
const int = (min: number, max: number = Number.MAX_SAFE_INTEGER) =>
  z
    .number({ error: 'must be a number' })
    .int({ error: `must be an integer` })
    .min(min, { error: `must be an integer >= ${min}` })
    .max(max, { error: `must be an integer <= ${max}` });
const positive = () => z.number({ error: 'must be a number' }).positive({ error: 'must be a number > 0' });
const ratio = () =>
  z
    .number({ error: 'must be a number' })
    .gt(0, { error: 'must be a fraction between 0 and 1 (e.g. 0.95)' })
    .lte(1, { error: 'must be a fraction between 0 and 1 (e.g. 0.95)' });
const nonEmpty = (what = 'a non-empty string') =>
  z.string({ error: `must be ${what}` }).min(1, { error: `must be ${what}` });

/**
 * Parses one rate of `upload.bandwidth_limit` into bytes per second (0 = unlimited). Units are binary, as in the AWS
 * CLI's `max_bandwidth`: `"2MB/s"` is 2 MiB/s. A bare number is bytes per second; `off` is unlimited. A timetable is
 * read by {@link parseBandwidthLimit}.
 */
export function parseBandwidth(value: string | number): number | undefined {
  return parseRate(value);
}

function isTimeZone(name: string): boolean {
  if (name === 'local') return true;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/** S3's storage classes for new objects (GLACIER and DEEP_ARCHIVE included: a lifecycle rule is often better). */
const STORAGE_CLASSES = [
  'STANDARD',
  'STANDARD_IA',
  'ONEZONE_IA',
  'INTELLIGENT_TIERING',
  'GLACIER_IR',
  'GLACIER',
  'DEEP_ARCHIVE',
  'REDUCED_REDUNDANCY',
] as const;
// S3's tag character set (letters, digits, spaces and + - = . _ : / @), in any script.
const TAG_KEY = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u;
const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
const PRIORITY_ERROR = `must be one of ${PRIORITIES.join(', ')}`;
const priority = () =>
  z.enum(PRIORITIES as [Priority, ...Priority[]], { error: PRIORITY_ERROR }).default('normal');

/** `upload.networks.unmetered` when the key is absent (but `upload.networks` is present). */
export const DEFAULT_UNMETERED: readonly string[] = ['wlan*', 'eth*'];
/** `upload.networks.metered` when the key is absent (but `upload.networks` is present). */
export const DEFAULT_METERED: readonly string[] = ['wwan*', 'usb*', 'ppp*'];

/** A list of interface-name globs (`*` and `?`), e.g. `["wlan*", "eth0"]`. */
function interfaceGlobs(defaults: readonly string[]) {
  return z
    .array(nonEmpty('an interface name glob such as wlan*'), {
      error: 'must be a list of interface name globs such as ["wlan*", "eth0"]',
    })
    .default([...defaults]);
}

const logDirectory = z.strictObject({
  path: nonEmpty('a directory path'),
  source: z
    .string({ error: 'must be a string of letters, digits and _' })
    .regex(/^[A-Za-z0-9_]+$/, { error: 'must be letters, digits and _ only' }),
  pattern: nonEmpty('a glob on the file name').default('*'),
  recursive: bool(true),
  allow_deletion: bool(true),
  // Sent compressed (key + .gz / .zst); files already compressed, and those that would not shrink, go as they are.
  compress: z.enum(['none', 'gzip', 'zstd'], { error: 'must be none, gzip or zstd' }).default('none'),
  // The lane of its files (upload.priority_rules may place a file elsewhere): higher lanes go first.
  priority: priority(),
});

const schema = z.strictObject({
  vehicle_id: z.string({ error: 'must be a string' }).regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, {
    error: 'must be letters, digits, _, . and - (it starts every object key)',
  }),
  log_directories: z
    .array(logDirectory, { error: 'must be a list of directories' })
    .min(1, { error: 'must list at least one directory' })
    .superRefine((dirs, ctx) => {
      const seen = new Map<string, number>();
      dirs.forEach((dir, index) => {
        const first = seen.get(dir.source);
        if (first === undefined) seen.set(dir.source, index);
        else {
          ctx.addIssue({
            code: 'custom',
            path: [index, 'source'],
            message: `must be unique, got "${dir.source}" again (already used by log_directories[${first}])`,
          });
        }
      });
    }),
  s3: z.strictObject(
    {
      bucket: nonEmpty('a bucket name'),
      // Optional: AWS_REGION or the profile's `region` may give it (see resolveAws).
      region: nonEmpty('a region such as cn-north-1').optional(),
      profile: nonEmpty('a profile name').optional(),
      credentials_path: nonEmpty('a directory path').optional(),
      endpoint: z.url({ error: 'must be a URL such as http://127.0.0.1:4568' }).optional(),
      // PEM file of the CAs that sign the endpoint's certificate (a private S3-compatible store, a TLS proxy).
      ca_bundle: nonEmpty('a file path').optional(),
      force_path_style: bool(false),
      checksum_mode: z
        .enum(['when_supported', 'when_required'], { error: 'must be when_supported or when_required' })
        .default('when_supported'),
      multipart_threshold_mb: positive().default(8),
      part_size_mb: z
        .number({ error: 'must be a number' })
        .min(5, { error: 'must be >= 5 (S3 rejects smaller multipart parts)' })
        .default(8),
      concurrency: int(1, 64).default(4),
      // Object governance (src/object-governance.ts): how objects are stored, for lifecycle and compliance rules.
      storage_class: z
        .enum(STORAGE_CLASSES, { error: `must be one of ${STORAGE_CLASSES.join(', ')}` })
        .optional(),
      sse: z
        .strictObject(
          {
            mode: z.enum(['AES256', 'aws:kms'], { error: 'must be AES256 or aws:kms' }),
            kms_key_id: nonEmpty('a KMS key id, ARN or alias').optional(),
            bucket_key: z.boolean({ error: 'must be true or false' }).optional(),
          },
          { error: 'must be a mapping with mode (AES256 or aws:kms)' },
        )
        .superRefine((sse, ctx) => {
          for (const key of ['kms_key_id', 'bucket_key'] as const) {
            if (sse[key] !== undefined && sse.mode !== 'aws:kms') {
              ctx.addIssue({
                code: 'custom',
                path: [key],
                input: sse[key],
                message: 'must be left out unless mode is aws:kms',
              });
            }
          }
        })
        .optional(),
      tags: z
        .record(
          z.string().regex(TAG_KEY, { error: 'must be 1 to 128 letters, digits, spaces or + - = . _ : / @' }),
          z
            .string({ error: "must be a string (use {vehicle} and {source} for the object's own)" })
            .max(256, { error: 'must be at most 256 characters' })
            .refine((value) => TAG_VALUE.test(value.replace(/\{(vehicle|source)\}/g, '')), {
              error:
                'must be letters, digits, spaces, + - = . _ : / @ and the placeholders {vehicle} and {source}',
            }),
          { error: 'must be a mapping of tag names to values' },
        )
        .refine((tags) => Object.keys(tags).length <= 10, {
          error: 'must hold at most 10 tags (S3 allows 10 per object)',
        })
        .default({}),
      // A stalled WiFi link must fail a request (and free its slot), not hang it: see adapters/destination.ts.
      connect_timeout_seconds: positive().default(10),
      socket_timeout_seconds: positive().default(60),
    },
    { error: 'must be a mapping with at least bucket' },
  ),
  upload: z
    .strictObject({
      schedule: z
        .strictObject({
          mode: z.enum(['interval', 'daily'], { error: 'must be interval or daily' }).default('interval'),
          interval_hours: int(0, 24).default(2),
          interval_minutes: int(0, 59).default(0),
          daily_time: time('15:00'),
        })
        .superRefine((schedule, ctx) => {
          const minutes = schedule.interval_hours * 60 + schedule.interval_minutes;
          if (schedule.mode === 'interval' && (minutes < 5 || minutes > 24 * 60)) {
            ctx.addIssue({
              code: 'custom',
              path: ['interval_minutes'],
              message: `must make an interval between 5 minutes and 24 hours, got interval_hours ${schedule.interval_hours} + interval_minutes ${schedule.interval_minutes}`,
            });
          }
        })
        .prefault({}),
      file_stable_seconds: int(0).default(60),
      operational_hours: z
        .strictObject({ enabled: bool(true), start: time('09:00'), end: time('18:00') })
        .prefault({}),
      batch_upload: z.strictObject({ enabled: bool(true) }).prefault({}),
      upload_on_start: bool(true),
      queue_file: nonEmpty('a file path').default('/var/lib/tvm-upload/queue.json'),
      failed_file: nonEmpty('a file path').optional(),
      scan_existing_files: z
        .strictObject({ enabled: bool(true), max_age_days: positive().default(3) })
        .prefault({}),
      processed_files_registry: z
        .strictObject({
          registry_file: nonEmpty('a file path').default('/var/lib/tvm-upload/processed_files.json'),
          retention_days: positive().default(30),
        })
        .prefault({}),
      retry: z
        .strictObject({
          max_retries: int(0, 100).default(10),
          initial_delay_seconds: z
            .number({ error: 'must be a number' })
            .min(0, { error: 'must be a number >= 0' })
            .default(1),
          max_delay_seconds: z
            .number({ error: 'must be a number' })
            .min(0, { error: 'must be a number >= 0' })
            .default(512),
        })
        .superRefine((retry, ctx) => {
          if (retry.max_delay_seconds < retry.initial_delay_seconds) {
            ctx.addIssue({
              code: 'custom',
              path: ['max_delay_seconds'],
              message: `must be >= upload.retry.initial_delay_seconds (${retry.initial_delay_seconds}), got ${retry.max_delay_seconds}`,
            });
          }
        })
        .prefault({}),
      bandwidth_limit: z
        .union([z.number(), z.string()], {
          error:
            'must be a rate such as "2MB/s", 0 or off for unlimited, or a timetable such as "08:00,512KiB/s 23:00,off"',
        })
        .superRefine((value, ctx) => {
          const parsed = parseBandwidthLimit(value);
          if ('error' in parsed) {
            const message = parsed.error.startsWith('must')
              ? parsed.error
              : `must be a valid timetable: ${parsed.error}`;
            ctx.addIssue({ code: 'custom', message });
          }
        })
        .default(0),
      order: z
        .enum(['oldest_first', 'newest_first'], { error: 'must be oldest_first or newest_first' })
        .default('oldest_first'),
      // First match on the basename wins over the directory's priority.
      priority_rules: z
        .array(
          z.strictObject(
            {
              pattern: nonEmpty('a glob on the file name'),
              priority: z.enum(PRIORITIES as [Priority, ...Priority[]], { error: PRIORITY_ERROR }),
            },
            { error: 'must be a mapping with pattern and priority' },
          ),
          { error: 'must be a list of { pattern, priority }' },
        )
        .default([]),
      // S3 bills the parts of a multipart upload nobody finishes; older than this and unreferenced, it is aborted.
      abandoned_upload_age_hours: positive().default(24),
      timezone: z
        .string({ error: 'must be local or an IANA time zone name' })
        .refine(isTimeZone, { error: 'must be local or an IANA time zone name such as Asia/Shanghai' })
        .default('local'),
      // Metered links (see README "Metered links"): absent = no metered behaviour at all.
      networks: z
        .strictObject({
          unmetered: interfaceGlobs(DEFAULT_UNMETERED),
          metered: interfaceGlobs(DEFAULT_METERED),
          metered_daily_budget_mb: z
            .number({ error: 'must be a number of megabytes (10^6 bytes) >= 0' })
            .min(0, { error: 'must be a number of megabytes (10^6 bytes) >= 0' })
            .default(200),
          metered_lanes: z
            .array(z.enum(LANES as [Lane, ...Lane[]], { error: `must be one of ${LANES.join(', ')}` }), {
              error: `must be a list of lanes (${LANES.join(', ')})`,
            })
            .default(['high']),
        })
        .optional(),
    })
    .prefault({}),
  deletion: z
    .strictObject({
      after_upload: z
        .strictObject({
          enabled: bool(true),
          keep_days: z
            .number({ error: 'must be a number' })
            .min(0, { error: 'must be a number >= 0' })
            .default(7),
        })
        .prefault({}),
      age_based: z
        .strictObject({
          enabled: bool(true),
          max_age_days: positive().default(14),
          schedule_time: time('02:00'),
        })
        .prefault({}),
      emergency: z.strictObject({ enabled: bool(true), threshold: ratio().optional() }).prefault({}),
    })
    .prefault({}),
  disk: z
    .strictObject({
      reserved_gb: z
        .number({ error: 'must be a number' })
        .min(0, { error: 'must be a number >= 0' })
        .default(70),
      warning_threshold: ratio().default(0.9),
      critical_threshold: ratio().default(0.95),
    })
    .superRefine((disk, ctx) => {
      if (disk.warning_threshold > disk.critical_threshold) {
        ctx.addIssue({
          code: 'custom',
          path: ['warning_threshold'],
          message: `must be <= disk.critical_threshold (${disk.critical_threshold}), got ${disk.warning_threshold}`,
        });
      }
    })
    .prefault({}),
  monitoring: z
    .strictObject({
      cloudwatch_enabled: bool(true),
      publish_interval_seconds: int(10, 86_400).default(300),
      // GET /metrics and /healthz (off unless this mapping is given); see monitoring/listen.ts for the rules.
      http: z
        .strictObject({
          listen: z
            .string({ error: 'must be host:port such as 127.0.0.1:9464' })
            .superRefine((value, ctx) => {
              const parsed = parseListen(value);
              if ('problem' in parsed) ctx.addIssue({ code: 'custom', message: parsed.problem });
            })
            .default(DEFAULT_LISTEN),
        })
        .optional(),
    })
    .prefault({}),
});

type Parsed = z.output<typeof schema>;

/**
 * The validated configuration: the YAML's own keys (snake_case, as operators write them) with every default filled
 * in, strings expanded, and the derived values the agent needs resolved.
 */
export type AgentConfig = Omit<Parsed, 's3' | 'upload' | 'deletion'> & {
  s3: Omit<Parsed['s3'], 'credentials_path' | 'region'> & {
    /** Directory of the shared AWS `credentials` and `config` files. Defaults to `~/.aws`. */
    credentials_path: string;
    /** `s3.region`, else `AWS_REGION`, else the profile's `region` in `credentials_path/config`. */
    region: string;
    /** `s3.endpoint`, else the profile's `endpoint_url` in `credentials_path/config`; absent = AWS's endpoint. */
    endpoint?: string;
    /** `s3.ca_bundle`, else `AWS_CA_BUNDLE`, else the profile's `ca_bundle`; absent = Node's own CAs. */
    ca_bundle?: string;
  };
  upload: Omit<Parsed['upload'], 'failed_file' | 'bandwidth_limit'> & {
    /** Defaults to `failed.json` beside `queue_file`. */
    failed_file: string;
    /** One rate (bytes per second, 0 = unlimited) or a timetable: see `bandwidth/timetable.ts`. */
    bandwidth_limit: BandwidthLimit;
  };
  deletion: Omit<Parsed['deletion'], 'emergency'> & {
    /** `threshold` defaults to `disk.critical_threshold`. */
    emergency: { enabled: boolean; threshold: number };
  };
};

/** The outcome of reading a configuration: the config and warnings that did not stop it. */
export interface LoadedConfig {
  config: AgentConfig;
  /** One line each, e.g. `upload.foo (line 12, column 3): unknown key (ignored)`. */
  warnings: string[];
}

/** One problem (or warning) of a config file, located in its YAML. */
export interface ConfigProblem {
  /** The key path, e.g. `upload.retry.max_retries`, `log_directories[1].source`; `(YAML syntax)`, `(root)`. */
  key: string;
  /** 1-based line of the offending value (or key) in the file; absent when the text has no such place. */
  line?: number;
  /** 1-based column, as `line`. */
  column?: number;
  /** What is wrong, e.g. `must be an integer >= 0, got -1`; for a YAML syntax error, yaml's message with its code frame. */
  message: string;
}

/** Everything a check of a config found: the config when there were no problems. */
export interface ConfigCheck {
  config?: AgentConfig;
  problems: ConfigProblem[];
  warnings: ConfigProblem[];
}

/** Options of {@link parseConfig} and {@link loadConfig}. */
export interface ParseConfigOptions {
  /** Variables for `${VAR}` / `$VAR`, and `AWS_REGION` / `AWS_CA_BUNDLE`. @default process.env */
  env?: Readonly<Record<string, string | undefined>>;
  /** What a leading `~` means. @default $HOME, else os.homedir() */
  homedir?: string;
}

const YAML_SYNTAX = '(YAML syntax)';

/** `upload.retry.max_retries (line 12, column 18): must be ...`: one problem for a person. */
export function formatProblem(problem: ConfigProblem): string {
  // yaml's own message already says "at line 3, column 1" above its code frame.
  if (problem.key === YAML_SYNTAX) return `${problem.key}: ${problem.message}`;
  const at = problem.line === undefined ? '' : ` (line ${problem.line}, column ${problem.column ?? 1})`;
  return `${problem.key}${at}: ${problem.message}`;
}

/**
 * Parses and validates the text of a config file. Every problem is reported at once, one line each naming the key
 * path and its line and column. Unknown keys are warnings, except one within two edits of a known key at the same
 * level: that is a misspelling (`keep_dayz`) whose default would silently apply, so it is an error.
 * @throws {AgentError} code `invalid-config`, with `problems` listing each line.
 */
export function parseConfig(text: string, options: ParseConfigOptions = {}): LoadedConfig {
  const check = checkConfigText(text, options);
  const warnings = check.warnings.map(formatProblem);
  if (check.config === undefined) throw AgentError.invalidConfig(check.problems.map(formatProblem), warnings);
  return { config: check.config, warnings };
}

/** {@link parseConfig} without the throw: the problems and warnings as data (what `check-config --json` prints). */
export function checkConfigText(text: string, options: ParseConfigOptions = {}): ConfigCheck {
  const env = options.env ?? process.env;
  const context: ExpandContext = { env, homedir: options.homedir ?? env['HOME'] ?? homedir() };
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: true });
  const warnings: ConfigProblem[] = [];
  if (document.errors.length > 0) {
    // One bad token makes the parser report every token after it: the first few errors locate the mistake. Each
    // is shown whole: yaml's message ends with a code frame that points at the column.
    const problems = document.errors.slice(0, 3).map((e) => {
      const pos = e.linePos?.[0];
      return {
        key: YAML_SYNTAX,
        ...(pos ? { line: pos.line, column: pos.col } : {}),
        message: e.message.trimEnd(),
      };
    });
    return { problems, warnings };
  }
  const at = (path: readonly PropertyKey[], onKey = false): ConfigProblem => ({
    key: formatPath(path),
    ...locate(document, lineCounter, path, onKey),
    message: '',
  });
  const raw: unknown = document.toJS() ?? {};
  const expanded = expandAll(raw, context, (name, path) =>
    warnings.push({
      ...at(parsePath(path)),
      message: `environment variable ${name} is not set (left as written)`,
    }),
  );
  if (typeof expanded !== 'object' || expanded === null || Array.isArray(expanded)) {
    const problem = {
      ...at([]),
      message: 'must be a mapping of keys such as vehicle_id, log_directories, s3',
    };
    return { problems: [problem], warnings };
  }
  const problems: ConfigProblem[] = [];
  // Unknown keys: remove them, then validate what is left, so misspelt keys never hide real errors.
  let result = schema.safeParse(expanded, { reportInput: true });
  if (!result.success) {
    const unknown = result.error.issues.filter((issue) => issue.code === 'unrecognized_keys');
    for (const issue of unknown) {
      for (const key of issue.keys) {
        const path = [...issue.path, key];
        const near = nearestKey(key, knownKeys(issue.path));
        if (near === undefined) warnings.push({ ...at(path, true), message: 'unknown key (ignored)' });
        else problems.push({ ...at(path, true), message: `unknown key; did you mean \`${near}\`?` });
        deleteAt(expanded, path);
      }
    }
    if (unknown.length > 0) result = schema.safeParse(expanded, { reportInput: true });
  }
  if (!result.success) {
    for (const issue of result.error.issues)
      problems.push({ ...at(issue.path), message: issueMessage(issue) });
  }
  // In the order of the file, as a person fixes them.
  const byPlace = (a: ConfigProblem, b: ConfigProblem) =>
    (a.line ?? Infinity) - (b.line ?? Infinity) || (a.column ?? 0) - (b.column ?? 0);
  problems.sort(byPlace);
  warnings.sort(byPlace);
  if (problems.length > 0 || !result.success) return { problems, warnings };
  const config = finish(result.data, context.homedir, env);
  if (typeof config === 'string')
    return { problems: [{ ...at(['s3']), key: 's3.region', message: config }], warnings };
  return { config, problems, warnings };
}

/**
 * Reads, expands and validates a config file (the old daemon's YAML plus the new keys).
 * @throws {AgentError} code `invalid-config` (problems listed) or `config-unreadable`.
 */
export async function loadConfig(path: string, options: ParseConfigOptions = {}): Promise<LoadedConfig> {
  return parseConfig(await readConfigText(path), options);
}

/**
 * {@link loadConfig} without the throw for an invalid config (what `check-config --json` prints).
 * @throws {AgentError} code `config-unreadable`.
 */
export async function checkConfigFile(path: string, options: ParseConfigOptions = {}): Promise<ConfigCheck> {
  return checkConfigText(await readConfigText(path), options);
}

async function readConfigText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new AgentError('config-unreadable', `Cannot read config ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/**
 * The AWS settings the SDK would take from elsewhere when the config is silent, in the AWS tools' order: the
 * config's own key, then the environment (`AWS_REGION`, `AWS_CA_BUNDLE`), then the profile's section in the
 * `config` file beside `credentials_path` (the SDK itself reads only ~/.aws/config, not that directory). Returns
 * the region problem as a string when no source gives a region.
 */
function resolveAws(
  s3: Parsed['s3'],
  credentialsPath: string,
  env: Readonly<Record<string, string | undefined>>,
): Pick<AgentConfig['s3'], 'region' | 'endpoint' | 'ca_bundle'> | string {
  const profile = profileSettings(credentialsPath, s3.profile);
  const region = s3.region ?? nonEmptyOr(env['AWS_REGION']) ?? profile.region;
  if (region === undefined) {
    const section = s3.profile === undefined ? '[default]' : `[profile ${s3.profile}]`;
    return `is required: set s3.region, or AWS_REGION, or region in ${section} of ${join(credentialsPath, 'config')}`;
  }
  const endpoint = s3.endpoint ?? profile.endpoint_url;
  const caBundle = s3.ca_bundle ?? nonEmptyOr(env['AWS_CA_BUNDLE']) ?? profile.ca_bundle;
  return {
    region,
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(caBundle === undefined ? {} : { ca_bundle: caBundle }),
  };
}

function nonEmptyOr(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function finish(
  parsed: Parsed,
  home: string,
  env: Readonly<Record<string, string | undefined>>,
): AgentConfig | string {
  const { failed_file, bandwidth_limit, ...upload } = parsed.upload;
  const credentialsPath = parsed.s3.credentials_path ?? join(home, '.aws');
  const aws = resolveAws(parsed.s3, credentialsPath, env);
  if (typeof aws === 'string') return aws;
  const { region: _region, endpoint: _endpoint, ca_bundle: _ca, ...s3 } = parsed.s3;
  return {
    ...parsed,
    s3: { ...s3, ...aws, credentials_path: credentialsPath },
    upload: {
      ...upload,
      failed_file: failed_file ?? join(dirname(parsed.upload.queue_file), 'failed.json'),
      bandwidth_limit: resolvedBandwidth(bandwidth_limit),
    },
    deletion: {
      ...parsed.deletion,
      emergency: {
        enabled: parsed.deletion.emergency.enabled,
        threshold: parsed.deletion.emergency.threshold ?? parsed.disk.critical_threshold,
      },
    },
  };
}

function resolvedBandwidth(value: string | number): BandwidthLimit {
  const parsed = parseBandwidthLimit(value);
  return 'error' in parsed ? { rate: 0, entries: [] } : parsed; // validated by the schema
}

function deleteAt(root: unknown, path: readonly PropertyKey[]): void {
  let node: unknown = root;
  for (const key of path.slice(0, -1)) node = (node as Record<PropertyKey, unknown> | undefined)?.[key];
  const last = path.at(-1);
  if (typeof node === 'object' && node !== null && last !== undefined)
    delete (node as Record<PropertyKey, unknown>)[last];
}

/** `log_directories[1].source`, `upload.schedule.interval_minutes`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out || '(root)';
}

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

function issueMessage(issue: z.core.$ZodIssue): string {
  const input = (issue as { input?: unknown }).input;
  if (input === undefined && (issue.code === 'invalid_type' || issue.code === 'invalid_union')) {
    return 'is required';
  }
  let message = issue.message;
  if (!message.startsWith('must')) {
    // Zod's own wording ("Invalid input: ...") for checks we did not word ourselves.
    message = `must be valid (${message})`;
  }
  if (input === undefined || message.includes(', got ')) return message;
  return `${message}, got ${show(input)}`;
}

/** `log_directories[1].source` -> `['log_directories', 1, 'source']` (the inverse of {@link formatPath}). */
function parsePath(path: string): PropertyKey[] {
  return [...path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)].map((m) =>
    m[2] === undefined ? (m[1] as string) : Number(m[2]),
  );
}

/**
 * Where `path` is written: the value's first character (the key's, with `onKey`, or when the value is empty). A
 * path that goes past what the file has (a required key that is missing) points at the deepest mapping it has.
 */
function locate(
  document: Document,
  lineCounter: LineCounter,
  path: readonly PropertyKey[],
  onKey: boolean,
): { line?: number; column?: number } {
  let node: unknown = document.contents;
  let found: unknown = node;
  for (const [index, segment] of path.entries()) {
    if (isMap(node)) {
      const pair = node.items.find(
        (item) => isScalar(item.key) && String(item.key.value) === String(segment),
      );
      if (pair === undefined) break;
      const last = index === path.length - 1;
      found = (last && onKey) || pair.value === null ? pair.key : pair.value;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment];
      if (item === undefined) break;
      found = item;
      node = item;
    } else break;
  }
  const offset = (found as { range?: [number, number, number] } | null | undefined)?.range?.[0];
  if (offset === undefined) return {};
  const { line, col } = lineCounter.linePos(offset);
  return { line, column: col };
}

/** The keys the schema knows for the mapping at `path` (indices step into a list's items). */
function knownKeys(path: readonly PropertyKey[]): string[] {
  type Node = { _zod: { def: { innerType?: Node; element?: Node; shape?: Record<string, Node> } } };
  const unwrap = (node: Node | undefined): Node | undefined => {
    let current = node;
    while (current?._zod.def.innerType) current = current._zod.def.innerType;
    return current;
  };
  let node = unwrap(schema as unknown as Node);
  for (const segment of path) {
    node = unwrap(
      typeof segment === 'number' ? node?._zod.def.element : node?._zod.def.shape?.[String(segment)],
    );
  }
  return Object.keys(node?._zod.def.shape ?? {});
}

/** The known key within two edits of `key` (the closest, the first in schema order on a tie), if any. */
export function nearestKey(key: string, known: readonly string[]): string | undefined {
  let best: { key: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(key.toLowerCase(), candidate);
    // A two-letter key is two edits from every other two-letter key: only a real resemblance counts.
    if (
      distance <= 2 &&
      distance < Math.min(key.length, candidate.length) &&
      distance < (best?.distance ?? 3)
    )
      best = { key: candidate, distance };
  }
  return best?.key;
}

/**
 * Damerau-Levenshtein distance (optimal string alignment): insertions, deletions, substitutions and swaps of two
 * neighbours each count one, so `keep_dyas` is one edit from `keep_days`.
 */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number) => d[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        value = Math.min(value, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = value;
    }
  }
  return at(a.length, b.length);
}

/** Paths of the state files, derived from the config so every command finds the same ones. */
export interface StatePaths {
  /** The directory holding the queue (and the lock, the schedule state). */
  stateDir: string;
  queueFile: string;
  failedFile: string;
  registryFile: string;
  /** When the daily upload and the age-based clean-up last ran (survives reboots). */
  scheduleFile: string;
}

/** Where the state files of `config` live. */
export function statePaths(config: AgentConfig): StatePaths {
  const stateDir = dirname(config.upload.queue_file);
  return {
    stateDir,
    queueFile: config.upload.queue_file,
    failedFile: config.upload.failed_file,
    registryFile: config.upload.processed_files_registry.registry_file,
    scheduleFile: join(stateDir, 'schedule.json'),
  };
}

/**
 * `s3.multipart_threshold_mb` in bytes: files this large or larger go up in parts. The uploader is built with it, and
 * the compression spool marks only spool files this large (nothing of a smaller one can be resumed).
 */
export function multipartThresholdBytes(config: AgentConfig): number {
  return Math.round(config.s3.multipart_threshold_mb * 2 ** 20);
}
