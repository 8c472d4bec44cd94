import { setTimeout as sleep } from 'node:timers/promises';
import { invalidOption } from './errors.js';
import { compileGlob } from './glob.js';
import { DEFAULT_PROTECTED_PATHS, isNormalizedAbsolute } from './paths.js';
import type { StatfsSample } from './pressure.js';

/** The clock every @tvm package accepts: epoch milliseconds and an abortable sleep. */
export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => sleep(ms, undefined, signal ? { signal, ref: false } : { ref: false }),
};

/** Where disk-guard says things that must not go unnoticed (data loss). */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Writes warnings and errors to stderr and drops debug and info. */
export const defaultLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: (message) => process.stderr.write(`${message}\n`),
  error: (message) => process.stderr.write(`${message}\n`),
};

/** One monitored log directory, as in `log_directories` of the configuration. */
export interface DirectoryOptions {
  /** Absolute path (after `~` / `$VAR` expansion, which is the caller's job). */
  path: string;
  /** The source name (`terminal`, `ros`, `syslog`); used in reasons. */
  source: string;
  /** Glob on the basename (fnmatch: `*`, `?`, `[1-9]`, `[!x]`); only matching files may be deleted. */
  pattern?: string | undefined;
  /** Whether files in subdirectories belong to the directory. @default true */
  recursive?: boolean | undefined;
  /** Whether files may be deleted from here at all. @default true */
  allowDeletion?: boolean | undefined;
}

/** The lstat facts the safety gate needs (a subset of Node's `Stats`). */
export interface FileStats {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
}

/**
 * The file system operations disk-guard performs; injectable for tests. Production: `node:fs`. `lstat` may answer
 * synchronously: the production one does (see `nodeFs`), and the gate then skips a promise round trip per file.
 */
export interface DiskGuardFs {
  lstat(path: string): FileStats | Promise<FileStats>;
  stat(path: string): Promise<FileStats>;
  realpath(path: string): Promise<string>;
  unlink(path: string): Promise<void>;
}

/**
 * How the guard's string paths map to the bytes the file system stores. Linux names are bytes and need not be UTF-8;
 * a caller that holds such names in a string form of its own (for example PEP 383 "surrogateescape") passes its
 * pair here, and every file system call, realpath answer and /proc link goes through it, so paths are still
 * compared as strings, component by component, and always name the file they came from.
 */
export interface PathEncoding {
  /** The path as `node:fs` takes it. Throwing refuses the file (`stat-failed`), it is never deleted. */
  toFs(path: string): string | Buffer;
  /** A path the kernel returned (realpath, a /proc fd link), as the guard's string. */
  fromFs(path: Buffer): string;
}

/** Node's own mapping: strings are UTF-8, bytes that are not valid UTF-8 come back as U+FFFD. */
export const utf8PathEncoding: PathEncoding = {
  toFs: (path) => path,
  fromFs: (path) => path.toString('utf8'),
};

/** `fs.statfs` for the filesystem holding `path`. */
export type StatfsFunction = (path: string) => Promise<StatfsSample>;

/**
 * Returns the real paths of files currently open for writing below any of `roots` (real paths of the deletable
 * directories). Production default on Linux: a scan of `/proc/<pid>/fd`. Return `undefined` when unknown.
 */
export type OpenForWritingProbe = (roots: readonly string[]) => Promise<ReadonlySet<string> | undefined>;

/** Options of `createDiskGuard`. Keys mirror the `deletion:` and `disk:` sections of the configuration. */
export interface DiskGuardOptions {
  /** The monitored log directories. */
  directories: readonly DirectoryOptions[];
  /**
   * Extra protected directories, added to `DEFAULT_PROTECTED_PATHS` (`/var /etc /usr /opt /sys /proc /boot /dev`),
   * which always apply. @default []
   */
  protectedPaths?: readonly string[] | undefined;
  /** `deletion.after_upload`. @default { enabled: true, keepDays: 7 } */
  afterUpload?: { enabled?: boolean | undefined; keepDays?: number | undefined } | undefined;
  /** `deletion.age_based` (the schedule is the caller's). @default { enabled: true, maxAgeDays: 14 } */
  ageBased?: { enabled?: boolean | undefined; maxAgeDays?: number | undefined } | undefined;
  /** `deletion.emergency`; `threshold` defaults to `disk.criticalThreshold`. @default { enabled: true } */
  emergency?: { enabled?: boolean | undefined; threshold?: number | undefined } | undefined;
  /**
   * `disk`: `reservedBytes` (`reserved_gb` * 2^30; 0 = only the warning threshold counts), `warningThreshold`,
   * `criticalThreshold`. @default { reservedBytes: 0, warningThreshold: 0.9, criticalThreshold: 0.95 }
   */
  disk?:
    | {
        reservedBytes?: number | undefined;
        warningThreshold?: number | undefined;
        criticalThreshold?: number | undefined;
      }
    | undefined;
  /** @default systemClock */
  clock?: Clock | undefined;
  /** @default fs.promises.statfs */
  statfs?: StatfsFunction | undefined;
  /** Overrides for single file system operations (they receive the string paths). @default node:fs/promises */
  fs?: Partial<DiskGuardFs> | undefined;
  /**
   * How paths are passed to `node:fs` and read back (the default file system operations, statfs and the /proc scan
   * use it; `fs`, `statfs` and `openForWriting` overrides do not). @default utf8PathEncoding (Node's own)
   */
  pathEncoding?: PathEncoding | undefined;
  /** Open-for-writing detection; `false` disables it. @default the /proc scan on Linux, none elsewhere */
  openForWriting?: OpenForWritingProbe | false | undefined;
  /** Receives one `error` line per file deleted that was never uploaded (data loss). @default stderr for warn/error */
  logger?: Logger | undefined;
}

/** A directory after validation and defaults. */
export interface NormalizedDirectory {
  path: string;
  source: string;
  pattern: string | undefined;
  matches: (name: string) => boolean;
  recursive: boolean;
  allowDeletion: boolean;
}

/** Options after validation and defaults. */
export interface NormalizedOptions {
  directories: NormalizedDirectory[];
  protectedPaths: string[];
  afterUpload: { enabled: boolean; keepDays: number };
  ageBased: { enabled: boolean; maxAgeDays: number };
  emergency: { enabled: boolean; threshold: number };
  disk: { reservedBytes: number; warningThreshold: number; criticalThreshold: number };
}

/** Validates options and applies defaults. @throws TypeError naming the option and the value */
export function normalizeOptions(options: DiskGuardOptions): NormalizedOptions {
  if (typeof options !== 'object' || options === null) invalidOption('options', 'an object', options);
  if (!Array.isArray(options.directories)) invalidOption('directories', 'an array', options.directories);
  const encoding = options.pathEncoding;
  if (
    encoding !== undefined &&
    (typeof encoding?.toFs !== 'function' || typeof encoding.fromFs !== 'function')
  ) {
    invalidOption('pathEncoding', 'an object with toFs and fromFs functions', encoding);
  }
  const directories = options.directories.map((directory, index) => normalizeDirectory(directory, index));

  const extra = options.protectedPaths ?? [];
  if (!Array.isArray(extra)) invalidOption('protectedPaths', 'an array of absolute paths', extra);
  extra.forEach((path, index) => {
    if (typeof path !== 'string' || !isNormalizedAbsolute(path)) {
      invalidOption(`protectedPaths[${index}]`, 'a normalized absolute path', path);
    }
  });

  const disk = options.disk ?? {};
  const warningThreshold = fraction('disk.warningThreshold', disk.warningThreshold ?? 0.9);
  const criticalThreshold = fraction('disk.criticalThreshold', disk.criticalThreshold ?? 0.95);
  if (criticalThreshold < warningThreshold) {
    invalidOption(
      'disk.criticalThreshold',
      `at least \`disk.warningThreshold\` (${warningThreshold})`,
      criticalThreshold,
    );
  }
  const reservedBytes = nonNegative('disk.reservedBytes', disk.reservedBytes ?? 0);

  const emergency = options.emergency ?? {};
  const threshold = fraction('emergency.threshold', emergency.threshold ?? criticalThreshold);
  if (threshold < warningThreshold) {
    invalidOption(
      'emergency.threshold',
      `at least \`disk.warningThreshold\` (${warningThreshold})`,
      threshold,
    );
  }

  const afterUpload = options.afterUpload ?? {};
  const ageBased = options.ageBased ?? {};
  return {
    directories,
    protectedPaths: [...new Set([...DEFAULT_PROTECTED_PATHS, ...extra])],
    afterUpload: {
      enabled: flag('afterUpload.enabled', afterUpload.enabled ?? true),
      keepDays: nonNegative('afterUpload.keepDays', afterUpload.keepDays ?? 7),
    },
    ageBased: {
      enabled: flag('ageBased.enabled', ageBased.enabled ?? true),
      maxAgeDays: nonNegative('ageBased.maxAgeDays', ageBased.maxAgeDays ?? 14),
    },
    emergency: { enabled: flag('emergency.enabled', emergency.enabled ?? true), threshold },
    disk: { reservedBytes, warningThreshold, criticalThreshold },
  };
}

function normalizeDirectory(directory: DirectoryOptions, index: number): NormalizedDirectory {
  const at = `directories[${index}]`;
  if (typeof directory !== 'object' || directory === null) invalidOption(at, 'an object', directory);
  if (typeof directory.path !== 'string' || !directory.path.startsWith('/')) {
    invalidOption(`${at}.path`, 'an absolute path', directory.path);
  }
  // Trailing slashes and `..` in a configured directory are tidied once here; candidate paths are not.
  const path = directory.path.length > 1 ? directory.path.replace(/\/+$/, '') : directory.path;
  if (!isNormalizedAbsolute(path)) invalidOption(`${at}.path`, 'a normalized absolute path', directory.path);
  if (typeof directory.source !== 'string' || directory.source === '') {
    invalidOption(`${at}.source`, 'a non-empty string', directory.source);
  }
  if (
    directory.pattern !== undefined &&
    (typeof directory.pattern !== 'string' || directory.pattern === '')
  ) {
    invalidOption(`${at}.pattern`, 'a non-empty glob string', directory.pattern);
  }
  const pattern = directory.pattern;
  return {
    path,
    source: directory.source,
    pattern,
    matches: pattern === undefined ? () => true : compileGlob(pattern),
    recursive: flag(`${at}.recursive`, directory.recursive ?? true),
    allowDeletion: flag(`${at}.allowDeletion`, directory.allowDeletion ?? true),
  };
}

function fraction(name: string, value: unknown): number {
  if (typeof value !== 'number' || !(value > 0 && value <= 1))
    invalidOption(name, 'a number in (0, 1]', value);
  return value;
}

function nonNegative(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    invalidOption(name, 'a non-negative finite number', value);
  }
  return value;
}

function flag(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') invalidOption(name, 'a boolean', value);
  return value;
}
