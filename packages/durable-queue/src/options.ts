import { dirname, join, resolve } from 'node:path';
import { invalidOption } from './errors.js';

/** Where the state lives: a directory, or explicit files (the agent's `queue_file` and `registry_file`). */
export interface StatePathsOptions {
  /** The state directory; the files default to `queue.json`, `failed.json` and `processed_files.json` in it. */
  directory?: string;
  /** @default `<directory>/queue.json` */
  queueFile?: string;
  /** @default `failed.json` beside the queue file */
  failedFile?: string;
  /** @default `processed_files.json` beside the queue file */
  registryFile?: string;
  /** Where other processes leave requests for the running store. @default `requests` beside the queue file */
  requestsDirectory?: string;
}

/** The resolved absolute paths of the state files. */
export interface StatePaths {
  readonly queueFile: string;
  readonly failedFile: string;
  readonly registryFile: string;
  readonly requestsDirectory: string;
  /** One lock file per distinct directory holding a state file: `<dir>/tvm-upload.lock`. */
  readonly lockFiles: readonly string[];
}

/** The lock file's name in each state directory. */
export const LOCK_FILE_NAME = 'tvm-upload.lock';

function optionalPath(options: StatePathsOptions, name: keyof StatePathsOptions): string | undefined {
  const value = options[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') invalidOption(name, 'a non-empty path', value);
  return resolve(value);
}

/** Resolves and validates the state paths. Throws a TypeError without `directory` or `queueFile`. */
export function resolvePaths(options: StatePathsOptions): StatePaths {
  if (typeof options !== 'object' || options === null) invalidOption('options', 'an object', options);
  const directory = optionalPath(options, 'directory');
  const explicitQueue = optionalPath(options, 'queueFile');
  if (directory === undefined && explicitQueue === undefined) {
    invalidOption('directory', 'a non-empty path (or `queueFile` given)', options.directory);
  }
  const queueFile = explicitQueue ?? join(directory as string, 'queue.json');
  const base = directory ?? dirname(queueFile);
  const failedFile = optionalPath(options, 'failedFile') ?? join(base, 'failed.json');
  const registryFile = optionalPath(options, 'registryFile') ?? join(base, 'processed_files.json');
  const requestsDirectory =
    optionalPath(options, 'requestsDirectory') ?? join(dirname(queueFile), 'requests');
  const files = [queueFile, failedFile, registryFile];
  if (new Set(files).size !== files.length)
    invalidOption('queueFile', 'distinct from the other state files', files);
  const dirs = [...new Set(files.map((file) => dirname(file)))].sort();
  return {
    queueFile,
    failedFile,
    registryFile,
    requestsDirectory,
    lockFiles: dirs.map((d) => join(d, LOCK_FILE_NAME)),
  };
}
