import { DiskGuardError, describeError, errnoCode } from './errors.js';
import type { DiskGuardFs, FileStats, NormalizedDirectory } from './options.js';
import { isInside, isNormalizedAbsolute, isStrictlyInside } from './paths.js';
import type { PolicyName } from './policies.js';

/** Why the gate (or a plan/apply check around it) refused a file. A closed union: branch on it. */
export type RefusalCode =
  | 'invalid-candidate'
  | 'not-normalized'
  | 'protected-path'
  | 'outside-directories'
  | 'deletion-disabled'
  | 'not-recursive'
  | 'pattern-mismatch'
  | 'directory-missing'
  | 'not-found'
  | 'symlink'
  | 'not-regular-file'
  | 'symlink-escape'
  | 'open-for-writing'
  | 'stat-failed'
  | 'changed';

/** A file that was not (or will not be) deleted, and why. */
export interface Refusal {
  path: string;
  code: RefusalCode;
  reason: string;
  /** The policy that wanted the file gone; absent for `checkDeletable()`. */
  policy?: PolicyName;
}

/** A configured directory, resolved for one operation. */
export interface ResolvedDirectory extends NormalizedDirectory {
  /** realpath of the directory; undefined when it does not exist or cannot be read. */
  realPath: string | undefined;
  /** st_dev of the directory, to group directories by filesystem. */
  device: number | undefined;
  problem: DiskGuardError | undefined;
}

/** What one operation (a `plan()`, an `apply()`, a `checkDeletable()`) knows while it runs. */
export interface GateContext {
  directories: readonly ResolvedDirectory[];
  /** Each protected directory with the forms it is compared in (as configured and after realpath). */
  protectedForms: readonly { name: string; form: string }[];
  fs: DiskGuardFs;
  /**
   * Real paths open for writing below the deletable directories; undefined when unknown. Scanned on first use, then
   * answered synchronously for the rest of the operation.
   */
  openForWriting: () => ReadonlySet<string> | undefined | Promise<ReadonlySet<string> | undefined>;
  /** realpath of parent directories, shared by the files of one directory (a promise until it settles). */
  realParents: Map<string, string | Promise<string>>;
}

/** The gate's verdict: deletable (with the facts it saw) or refused (with a reason). */
export type GateResult =
  | { ok: true; directory: ResolvedDirectory; realPath: string; stats: FileStats }
  | { ok: false; code: RefusalCode; reason: string };

/** Resolves the configured directories (realpath and device) for one operation. Never throws. */
export async function resolveDirectories(
  directories: readonly NormalizedDirectory[],
  fs: DiskGuardFs,
): Promise<ResolvedDirectory[]> {
  return Promise.all(
    directories.map(async (directory): Promise<ResolvedDirectory> => {
      try {
        const realPath = await fs.realpath(directory.path);
        const stats = await fs.stat(realPath);
        if (!stats.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
        return { ...directory, realPath, device: stats.dev, problem: undefined };
      } catch (error) {
        const problem = new DiskGuardError(
          'DIRECTORY_UNAVAILABLE',
          directory.path,
          `Log directory ${directory.path} (source ${directory.source}) is unavailable: ${describeError(error)}`,
          { cause: error },
        );
        return { ...directory, realPath: undefined, device: undefined, problem };
      }
    }),
  );
}

/** Resolves each protected path with realpath too, so `/var` still protects when it is a symlink. Never throws. */
export async function resolveProtected(
  paths: readonly string[],
  fs: DiskGuardFs,
): Promise<{ name: string; form: string }[]> {
  const forms: { name: string; form: string }[] = [];
  await Promise.all(
    paths.map(async (name) => {
      forms.push({ name, form: name });
      try {
        const real = await fs.realpath(name);
        if (real !== name) forms.push({ name, form: real });
      } catch {
        // A protected path that does not exist protects nothing beyond its own name.
      }
    }),
  );
  return forms;
}

/**
 * The safety gate: the one function every deletion path (after-upload, age-based, emergency, `checkDeletable`)
 * goes through. Returns `ok` only when every layer agrees, in this order:
 *  1. a normalized absolute path (no `.`/`..`/`//`), not inside a protected directory (component-wise);
 *  2. inside a configured directory (the most specific one governs), which allows deletion;
 *  3. directly in it when the directory is not recursive; basename matches the directory's pattern;
 *  4. exists and is a regular file: not a symlink, directory, socket or device;
 *  5. after realpath of its parent: still not protected, still inside the directory's real path, not governed by
 *     another directory that forbids deletion;
 *  6. not open for writing by any process (when that can be detected).
 * Never throws: I/O failures become refusals.
 */
export function gate(path: string, ctx: GateContext): GateResult | Promise<GateResult> {
  // Returns synchronously whenever every fact is at hand (the production lstat is synchronous, parents' realpaths
  // and the open-file set are cached per operation): over 100,000 files, promise round trips cost more than lstat.
  if (typeof path !== 'string' || !isNormalizedAbsolute(path)) {
    return refuse('not-normalized', `${JSON.stringify(path)} is not a normalized absolute path`);
  }
  const lexicalProtected = protectedContaining(path, ctx);
  if (lexicalProtected !== undefined) {
    return refuse('protected-path', `${path} is inside the protected system directory ${lexicalProtected}`);
  }
  const match = governing(path, ctx.directories, 'both');
  if (match === undefined) {
    return refuse('outside-directories', `${path} is not inside any configured log directory`);
  }
  const rules = directoryRules(path, match.base, match.directory);
  if (rules !== undefined) return rules;
  if (match.directory.realPath === undefined) {
    return refuse('directory-missing', `log directory ${match.directory.path} is unavailable`);
  }

  let answer: FileStats | Promise<FileStats>;
  try {
    answer = ctx.fs.lstat(path);
  } catch (error) {
    return statFailed(path, error);
  }
  if (answer instanceof Promise) {
    return answer.then(
      (stats) => afterLstat(path, stats, match.directory, ctx),
      (error: unknown) => statFailed(path, error),
    );
  }
  return afterLstat(path, answer, match.directory, ctx);
}

function statFailed(path: string, error: unknown): GateResult {
  const code = errnoCode(error);
  if (code === 'ENOENT' || code === 'ENOTDIR') return refuse('not-found', `${path} does not exist`);
  return refuse('stat-failed', `${path} cannot be examined: ${describeError(error)}`);
}

function afterLstat(
  path: string,
  stats: FileStats,
  directory: ResolvedDirectory,
  ctx: GateContext,
): GateResult | Promise<GateResult> {
  if (stats.isSymbolicLink()) {
    return refuse('symlink', `${path} is a symbolic link; links are never deleted or followed`);
  }
  if (stats.isDirectory()) return refuse('not-regular-file', `${path} is a directory`);
  if (!stats.isFile()) return refuse('not-regular-file', `${path} is not a regular file`);

  const slash = path.lastIndexOf('/');
  const parent = slash === 0 ? '/' : path.slice(0, slash);
  const name = path.slice(slash + 1);
  const known = ctx.realParents.get(parent);
  if (typeof known === 'string') return afterRealpath(path, name, known, stats, directory, ctx);
  let pending: Promise<string>;
  if (known === undefined) {
    try {
      pending = Promise.resolve(ctx.fs.realpath(parent));
    } catch (error) {
      pending = Promise.reject(error);
    }
    ctx.realParents.set(parent, pending);
  } else {
    pending = known;
  }
  return pending.then(
    (realParent) => {
      ctx.realParents.set(parent, realParent);
      return afterRealpath(path, name, realParent, stats, directory, ctx);
    },
    (error: unknown) => refuse('stat-failed', `${parent} cannot be resolved: ${describeError(error)}`),
  );
}

function afterRealpath(
  path: string,
  name: string,
  realParent: string,
  stats: FileStats,
  directory: ResolvedDirectory,
  ctx: GateContext,
): GateResult | Promise<GateResult> {
  const realPath = realParent === '/' ? `/${name}` : `${realParent}/${name}`;
  const realProtected = protectedContaining(realPath, ctx);
  if (realProtected !== undefined) {
    return refuse(
      'protected-path',
      `${path} resolves to ${realPath}, inside the protected system directory ${realProtected}`,
    );
  }
  if (directory.realPath === undefined || !isStrictlyInside(realPath, directory.realPath)) {
    return refuse(
      'symlink-escape',
      `${path} resolves to ${realPath}, outside its log directory ${directory.realPath}`,
    );
  }
  // A symlinked subdirectory may lead into another configured directory (nested or not): its rules apply too.
  const realMatch = governing(realPath, ctx.directories, 'real');
  if (realMatch !== undefined && realMatch.directory !== directory) {
    const realRules = directoryRules(realPath, realMatch.base, realMatch.directory);
    if (realRules !== undefined) return realRules;
  }
  const writers = ctx.openForWriting();
  if (writers instanceof Promise)
    return writers.then((set) => lastCheck(path, realPath, stats, directory, set));
  return lastCheck(path, realPath, stats, directory, writers);
}

function lastCheck(
  path: string,
  realPath: string,
  stats: FileStats,
  directory: ResolvedDirectory,
  writers: ReadonlySet<string> | undefined,
): GateResult {
  if (writers?.has(realPath)) return refuse('open-for-writing', `${path} is open for writing by a process`);
  return { ok: true, directory, realPath, stats };
}

function directoryRules(path: string, base: string, directory: ResolvedDirectory): GateResult | undefined {
  if (!directory.allowDeletion) {
    return refuse(
      'deletion-disabled',
      `deletion is disabled (allow_deletion: false) for ${directory.path} (source ${directory.source})`,
    );
  }
  const slash = path.lastIndexOf('/');
  const name = path.slice(slash + 1);
  if (!directory.recursive && (slash === 0 ? '/' : path.slice(0, slash)) !== base) {
    return refuse(
      'not-recursive',
      `${path} is in a subdirectory of ${directory.path}, which is not recursive (source ${directory.source})`,
    );
  }
  if (!directory.matches(name)) {
    return refuse(
      'pattern-mismatch',
      `${name} does not match the pattern ${JSON.stringify(directory.pattern)} of ${directory.path}`,
    );
  }
  return undefined;
}

function protectedContaining(path: string, ctx: GateContext): string | undefined {
  for (const { name, form } of ctx.protectedForms) if (isInside(path, form)) return name;
  return undefined;
}

/** The most specific configured directory strictly containing `path`, by its configured or real path. */
export function governing(
  path: string,
  directories: readonly ResolvedDirectory[],
  by: 'both' | 'real',
): { directory: ResolvedDirectory; base: string } | undefined {
  let best: { directory: ResolvedDirectory; base: string } | undefined;
  for (const directory of directories) {
    for (const base of by === 'both' ? [directory.path, directory.realPath] : [directory.realPath]) {
      if (base === undefined || !isStrictlyInside(path, base)) continue;
      if (best === undefined || base.length > best.base.length) best = { directory, base };
    }
  }
  return best;
}

function refuse(code: RefusalCode, reason: string): GateResult {
  return { ok: false, code, reason };
}
