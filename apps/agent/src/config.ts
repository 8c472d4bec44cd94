import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { AgentError } from './errors.js';
import { expandAll, type ExpandContext } from './expand.js';

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

const BANDWIDTH = /^\s*(\d+(?:\.\d+)?)\s*(B|KB|KiB|MB|MiB|GB|GiB)?\s*(?:\/\s*s)?\s*$/i;
const UNITS: Record<string, number> = {
  b: 1,
  kb: 1024,
  kib: 1024,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};

/**
 * Parses `upload.bandwidth_limit` into bytes per second (0 = unlimited). Units are binary, as in the AWS CLI's
 * `max_bandwidth`: `"2MB/s"` is 2 MiB/s. A bare number is bytes per second.
 */
export function parseBandwidth(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.floor(value) : undefined;
  const match = BANDWIDTH.exec(value);
  if (!match) return undefined;
  const unit = UNITS[(match[2] ?? 'b').toLowerCase()] ?? 1;
  return Math.floor(Number(match[1]) * unit);
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

const logDirectory = z.strictObject({
  path: nonEmpty('a directory path'),
  source: z
    .string({ error: 'must be a string of letters, digits and _' })
    .regex(/^[A-Za-z0-9_]+$/, { error: 'must be letters, digits and _ only' }),
  pattern: nonEmpty('a glob on the file name').default('*'),
  recursive: bool(true),
  allow_deletion: bool(true),
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
      region: nonEmpty('a region such as cn-north-1'),
      profile: nonEmpty('a profile name').optional(),
      credentials_path: nonEmpty('a directory path').optional(),
      endpoint: z.url({ error: 'must be a URL such as http://127.0.0.1:4568' }).optional(),
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
      // A stalled WiFi link must fail a request (and free its slot), not hang it: see adapters/destination.ts.
      connect_timeout_seconds: positive().default(10),
      socket_timeout_seconds: positive().default(60),
    },
    { error: 'must be a mapping with at least bucket and region' },
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
        .union([z.number(), z.string()], { error: 'must be a rate such as "2MB/s", or 0 for unlimited' })
        .refine((v) => parseBandwidth(v) !== undefined, {
          error: 'must be a rate such as "2MB/s", or 0 for unlimited',
        })
        .default(0),
      order: z
        .enum(['oldest_first', 'newest_first'], { error: 'must be oldest_first or newest_first' })
        .default('oldest_first'),
      // S3 bills the parts of a multipart upload nobody finishes; older than this and unreferenced, it is aborted.
      abandoned_upload_age_hours: positive().default(24),
      timezone: z
        .string({ error: 'must be local or an IANA time zone name' })
        .refine(isTimeZone, { error: 'must be local or an IANA time zone name such as Asia/Shanghai' })
        .default('local'),
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
    .strictObject({ cloudwatch_enabled: bool(true), publish_interval_seconds: int(10, 86_400).default(300) })
    .prefault({}),
});

type Parsed = z.output<typeof schema>;

/**
 * The validated configuration: the YAML's own keys (snake_case, as operators write them) with every default filled
 * in, strings expanded, and the derived values the agent needs resolved.
 */
export type AgentConfig = Omit<Parsed, 's3' | 'upload' | 'deletion'> & {
  s3: Omit<Parsed['s3'], 'credentials_path'> & {
    /** Directory of the shared AWS `credentials` and `config` files. Defaults to `~/.aws`. */
    credentials_path: string;
  };
  upload: Omit<Parsed['upload'], 'failed_file' | 'bandwidth_limit'> & {
    /** Defaults to `failed.json` beside `queue_file`. */
    failed_file: string;
    /** Bytes per second; 0 = unlimited. */
    bandwidth_limit: number;
  };
  deletion: Omit<Parsed['deletion'], 'emergency'> & {
    /** `threshold` defaults to `disk.critical_threshold`. */
    emergency: { enabled: boolean; threshold: number };
  };
};

/** The outcome of reading a configuration: the config and warnings that did not stop it. */
export interface LoadedConfig {
  config: AgentConfig;
  /** One line each, e.g. `upload.foo: unknown key (ignored)`. */
  warnings: string[];
}

/** Options of {@link parseConfig} and {@link loadConfig}. */
export interface ParseConfigOptions {
  /** Variables for `${VAR}` / `$VAR`. @default process.env */
  env?: Readonly<Record<string, string | undefined>>;
  /** What a leading `~` means. @default $HOME, else os.homedir() */
  homedir?: string;
}

/**
 * Parses and validates the text of a config file. Every problem is reported at once, one line each naming the key
 * path; unknown keys are warnings, not errors.
 * @throws {AgentError} code `invalid-config`, with `problems` listing each line.
 */
export function parseConfig(text: string, options: ParseConfigOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const context: ExpandContext = { env, homedir: options.homedir ?? env['HOME'] ?? homedir() };
  const document = parseDocument(text);
  if (document.errors.length > 0) {
    // One bad token makes the parser report every token after it: the first few errors locate the mistake.
    throw AgentError.invalidConfig(
      document.errors.slice(0, 3).map((e) => `(YAML syntax): ${e.message.split('\n')[0] ?? e.message}`),
    );
  }
  const raw: unknown = document.toJS() ?? {};
  const warnings: string[] = [];
  const expanded = expandAll(raw, context, (name, path) =>
    warnings.push(`${path}: environment variable ${name} is not set (left as written)`),
  );
  if (typeof expanded !== 'object' || expanded === null || Array.isArray(expanded)) {
    throw AgentError.invalidConfig([
      '(root): must be a mapping of keys such as vehicle_id, log_directories, s3',
    ]);
  }
  // Unknown keys are warnings: remove them, then validate what is left, so misspelt keys never hide real errors.
  let result = schema.safeParse(expanded, { reportInput: true });
  if (!result.success) {
    const unknown = result.error.issues.filter((issue) => issue.code === 'unrecognized_keys');
    if (unknown.length > 0) {
      for (const issue of unknown) {
        for (const key of issue.keys) {
          warnings.push(`${formatPath([...issue.path, key])}: unknown key (ignored)`);
          deleteAt(expanded, [...issue.path, key]);
        }
      }
      result = schema.safeParse(expanded, { reportInput: true });
    }
  }
  if (!result.success) {
    throw AgentError.invalidConfig(result.error.issues.map(formatIssue), warnings);
  }
  return { config: finish(result.data, context.homedir), warnings };
}

/**
 * Reads, expands and validates a config file (the old daemon's YAML plus the new keys).
 * @throws {AgentError} code `invalid-config` (problems listed) or `config-unreadable`.
 */
export async function loadConfig(path: string, options: ParseConfigOptions = {}): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new AgentError('config-unreadable', `Cannot read config ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return parseConfig(text, options);
}

function finish(parsed: Parsed, home: string): AgentConfig {
  const { failed_file, bandwidth_limit, ...upload } = parsed.upload;
  return {
    ...parsed,
    s3: { ...parsed.s3, credentials_path: parsed.s3.credentials_path ?? join(home, '.aws') },
    upload: {
      ...upload,
      failed_file: failed_file ?? join(dirname(parsed.upload.queue_file), 'failed.json'),
      bandwidth_limit: parseBandwidth(bandwidth_limit) ?? 0,
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

function formatIssue(issue: z.core.$ZodIssue): string {
  const where = formatPath(issue.path);
  const input = (issue as { input?: unknown }).input;
  if (input === undefined && (issue.code === 'invalid_type' || issue.code === 'invalid_union')) {
    return `${where}: is required`;
  }
  let message = issue.message;
  if (!message.startsWith('must')) {
    // Zod's own wording ("Invalid input: ...") for checks we did not word ourselves.
    message = `must be valid (${message})`;
  }
  if (input === undefined || message.includes(', got ')) return `${where}: ${message}`;
  return `${where}: ${message}, got ${show(input)}`;
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
