import { readFileSync } from 'node:fs';
import { link, open, readdir, readFile, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { QueueError, messageOf } from '../errors.js';

/** What a lock file holds. */
export interface LockInfo {
  pid: number;
  /** Linux boot id: a lock from before a reboot (a power cut) is stale whatever its pid. */
  bootId?: string;
  /** The holder's start time in clock ticks since boot (/proc/<pid>/stat field 22): detects pid reuse. */
  startTicks?: number;
  hostname?: string;
  acquiredAt?: string;
  /** Set when the holder released it: the file stays, so the next holder rewrites it without new disk blocks. */
  releasedAt?: string;
}

/** The holder of a lock and whether it still runs. */
export interface LockHolder {
  info: LockInfo | undefined;
  alive: boolean;
  /** Why it is considered stale, when it is. */
  staleReason?: string;
  /** True when its holder released it (not stale: free). */
  released?: boolean;
}

const codeOf = (error: unknown): string | undefined =>
  typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;

function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function currentBootId(): string | undefined {
  return readProc('/proc/sys/kernel/random/boot_id')?.trim() || undefined;
}

function startTicksOf(pid: number): number | undefined {
  const stat = readProc(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // The command name (field 2) may contain spaces and parentheses: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[19]);
  return Number.isFinite(ticks) ? ticks : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return codeOf(error) === 'EPERM';
  }
}

function parseLock(text: string): LockInfo | undefined {
  try {
    const json = JSON.parse(text) as unknown;
    if (typeof json === 'object' && json !== null && Number.isSafeInteger((json as LockInfo).pid))
      return json as LockInfo;
  } catch {
    // An older or hand-written lock may hold a bare pid.
  }
  const pid = Number(text.trim());
  return Number.isSafeInteger(pid) && pid > 0 ? { pid } : undefined;
}

/** Judges a lock file's content: is its holder still running? */
export function judgeLock(text: string): LockHolder {
  const info = parseLock(text);
  if (!info) return { info, alive: false, staleReason: 'unreadable lock file' };
  if (typeof info.releasedAt === 'string') return { info, alive: false, released: true };
  const bootId = currentBootId();
  if (info.bootId && bootId && info.bootId !== bootId)
    return { info, alive: false, staleReason: 'left from before a reboot' };
  if (!isAlive(info.pid)) return { info, alive: false, staleReason: `pid ${info.pid} is not running` };
  if (info.startTicks !== undefined) {
    const ticks = startTicksOf(info.pid);
    if (ticks !== undefined && ticks !== info.startTicks) {
      return { info, alive: false, staleReason: `pid ${info.pid} now belongs to another process` };
    }
  }
  return { info, alive: true };
}

/** Reads and judges a lock file without touching it; `undefined` when there is none. */
export async function inspectLock(path: string): Promise<LockHolder | undefined> {
  try {
    return judgeLock(await readFile(path, 'utf8'));
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return undefined;
    throw error;
  }
}

function describe(info: LockInfo | undefined): string {
  if (!info) return 'unknown holder';
  return `pid ${info.pid}${info.hostname ? ` on ${info.hostname}` : ''}${info.acquiredAt ? ` since ${info.acquiredAt}` : ''}`;
}

/** A held lock. */
export interface HeldLock {
  readonly path: string;
  /**
   * False when the lock file could not be written (a full disk with no lock file yet): the lock is then held in
   * memory only and keeps no other process out.
   */
  readonly persisted: boolean;
  /**
   * For a lock held in memory only: tries to create the lock file now (call it once writes work again). Resolves
   * `undefined` when the lock file is ours now (or already was), else why not (still no space, or another process
   * created one meanwhile).
   */
  persist(): Promise<string | undefined>;
  release(): Promise<void>;
}

/** What the lock reports: a stale lock taken over, a lock that could only be held in memory. */
export interface LockEvents {
  stale(message: string): void;
  unwritable(message: string): void;
}

const SPACE_ERRORS = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EIO']);

/** Removes `<lock>.<pid>.tmp` files a crashed or disk-full acquisition left, when their pid no longer runs. */
async function removeStaleTemps(path: string): Promise<void> {
  const prefix = `${basename(path)}.`;
  let names: string[];
  try {
    names = await readdir(dirname(path));
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const pid = Number(name.slice(prefix.length, -'.tmp'.length));
    if (!Number.isSafeInteger(pid) || pid <= 0) continue;
    if (pid === process.pid || !isAlive(pid)) await unlink(join(dirname(path), name)).catch(() => undefined);
  }
}

/** Creates the lock complete in one step: a private temp file hard-linked into place (fails if one exists). */
async function createLock(path: string, content: string): Promise<'created' | 'exists'> {
  const temp = `${path}.${process.pid}.tmp`;
  try {
    const handle = await open(temp, 'w', 0o644);
    try {
      await handle.writeFile(content, 'utf8');
    } finally {
      await handle.close();
    }
    try {
      await link(temp, path);
      return 'created';
    } catch (error) {
      const code = codeOf(error);
      if (code === 'EEXIST') return 'exists';
      if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP') {
        return (await createExclusive(path, content)) ? 'created' : 'exists';
      }
      throw error;
    }
  } finally {
    // Always, also when writing the temp file failed (a full disk): nothing of ours is left behind.
    await unlink(temp).catch(() => undefined);
  }
}

/**
 * Rewrites an existing lock file's content in place, padded with spaces (JSON ignores them) to at least its old
 * length: the file keeps its blocks, so this works on a full disk, and a reader never sees our content followed
 * by the tail of the old one.
 */
async function rewriteLock(path: string, content: string, oldLength: number): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    const bytes = Buffer.from(content.padEnd(oldLength, ' '), 'utf8');
    await handle.write(bytes, 0, bytes.length, 0);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Takes the lock file at `path`, or throws `LOCKED` naming the live holder. A missing lock is created complete
 * in one step (temp file hard-linked into place; `link` fails if another process created one first). An
 * existing lock that is free (released by its holder, who leaves the file in place) or stale (dead pid, previous
 * boot, reused pid; reported through `events.stale`) is rewritten in place, then read back to confirm it is ours.
 * Rewriting in place needs no new disk blocks, so a restart on a full disk still takes a real lock. Only when
 * there is no lock file and none can be created for lack of space (ENOSPC, EDQUOT, EROFS, EIO) is the lock held
 * in memory, reported through `events.unwritable`.
 */
export async function acquireLock(path: string, now: Date, events: LockEvents): Promise<HeldLock> {
  const bootId = currentBootId();
  const startTicks = startTicksOf(process.pid);
  const info: LockInfo = {
    pid: process.pid,
    ...(bootId ? { bootId } : {}),
    ...(startTicks !== undefined ? { startTicks } : {}),
    hostname: hostname(),
    acquiredAt: now.toISOString(),
  };
  const content = `${JSON.stringify(info)}\n`;
  const held: HeldLock = {
    path,
    persisted: true,
    persist: () => Promise.resolve(undefined),
    release: () => releaseLock(path, info, content),
  };
  await removeStaleTemps(path);
  for (let attempt = 0; attempt < 5; attempt++) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if (codeOf(error) !== 'ENOENT') {
        throw new QueueError('READ_FAILED', `Cannot read the lock file ${path}: ${messageOf(error)}`, {
          cause: error,
        });
      }
      try {
        if ((await createLock(path, content)) === 'created') return held;
        continue;
      } catch (error) {
        const message = `Cannot create the lock file ${path}: ${messageOf(error)}`;
        if (!SPACE_ERRORS.has(codeOf(error) ?? ''))
          throw new QueueError('WRITE_FAILED', message, { cause: error });
        events.unwritable(
          `${message}; holding the lock in memory only: nothing keeps a second agent out of ${dirname(path)} ` +
            'until there is space for the lock file again (the store writes it after its next successful write)',
        );
        return inMemoryLock(held, content);
      }
    }
    const holder = judgeLock(text);
    if (holder.alive) {
      throw new QueueError(
        'LOCKED',
        `The state directory is locked by another process (${describe(holder.info)}): ${path}. ` +
          'Stop that process first; two agents must never share one state directory.',
        holder.info ? { holderPid: holder.info.pid } : {},
      );
    }
    // Re-read just before taking it over, so a lock another starting process took in the meantime is left alone.
    const again = await readFile(path, 'utf8').catch(() => undefined);
    if (again !== text) continue;
    try {
      await rewriteLock(path, content, Buffer.byteLength(text, 'utf8'));
    } catch (error) {
      throw new QueueError('WRITE_FAILED', `Cannot take over the lock file ${path}: ${messageOf(error)}`, {
        cause: error,
      });
    }
    const mine = await readFile(path, 'utf8').catch(() => undefined);
    if (mine?.trimEnd() !== content.trimEnd()) continue;
    if (!holder.released) {
      events.stale(
        `Took over a stale lock ${path} (${holder.staleReason ?? 'stale'}, was ${describe(holder.info)})`,
      );
    }
    return held;
  }
  throw new QueueError('LOCKED', `Cannot take the lock ${path}: it keeps changing hands`);
}

/** A lock held in memory until `persist()` manages to create its file; from then on it is `real`. */
function inMemoryLock(real: HeldLock, content: string): HeldLock {
  let persisted = false;
  return {
    path: real.path,
    get persisted() {
      return persisted;
    },
    async persist() {
      if (persisted) return undefined;
      try {
        if ((await createLock(real.path, content)) === 'created') {
          persisted = true;
          return undefined;
        }
        const holder = await inspectLock(real.path).catch(() => undefined);
        return `another lock file appeared meanwhile (${describe(holder?.info)})`;
      } catch (error) {
        return messageOf(error);
      }
    },
    release: () => (persisted ? real.release() : Promise.resolve()),
  };
}

async function createExclusive(path: string, content: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, 'wx', 0o644);
  } catch (error) {
    if (codeOf(error) === 'EEXIST') return false;
    throw error;
  }
  try {
    await handle.writeFile(content, 'utf8');
  } finally {
    await handle.close();
  }
  return true;
}

/**
 * Marks our own lock released by rewriting it in place (`releasedAt`), so the next start finds a file to reuse;
 * a lock another process took after ours was judged stale is not ours to touch.
 */
async function releaseLock(path: string, info: LockInfo, content: string): Promise<void> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text?.trimEnd() !== content.trimEnd()) return;
  const released = `${JSON.stringify({ ...info, releasedAt: new Date().toISOString() })}\n`;
  try {
    await rewriteLock(path, released, Buffer.byteLength(text, 'utf8'));
  } catch {
    // Cannot rewrite it (a read-only remount): remove it instead; a lock with a dead pid would be stale anyway.
    await unlink(path).catch(() => undefined);
  }
}
