import { readFileSync } from 'node:fs';
import { link, open, readFile, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
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
}

/** The holder of a lock and whether it still runs. */
export interface LockHolder {
  info: LockInfo | undefined;
  alive: boolean;
  /** Why it is considered stale, when it is. */
  staleReason?: string;
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
  release(): Promise<void>;
}

/**
 * Takes the lock file at `path`, or throws `LOCKED` naming the live holder. The content is written to a private
 * temp file first and hard-linked into place: `link` fails if the lock exists, so the lock never exists empty.
 * A stale lock (dead pid, previous boot, reused pid) is removed and reported through `onStale`.
 */
export async function acquireLock(
  path: string,
  now: Date,
  onStale: (message: string) => void,
): Promise<HeldLock> {
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
  const temp = `${path}.${process.pid}.tmp`;
  const handle = await open(temp, 'w', 0o644).catch((error: unknown) => {
    throw new QueueError('WRITE_FAILED', `Cannot create the lock file ${path}: ${messageOf(error)}`, {
      cause: error,
    });
  });
  try {
    await handle.writeFile(content, 'utf8');
  } finally {
    await handle.close();
  }
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await link(temp, path);
        return { path, release: () => releaseLock(path, content) };
      } catch (error) {
        const code = codeOf(error);
        if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP') {
          await createExclusive(path, content);
          return { path, release: () => releaseLock(path, content) };
        }
        if (code !== 'EEXIST') {
          throw new QueueError('WRITE_FAILED', `Cannot create the lock file ${path}: ${messageOf(error)}`, {
            cause: error,
          });
        }
      }
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (error) {
        if (codeOf(error) === 'ENOENT') continue;
        throw new QueueError('READ_FAILED', `Cannot read the lock file ${path}: ${messageOf(error)}`, {
          cause: error,
        });
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
      // Re-read just before removing, so a lock another starting process took in the meantime is left alone.
      const again = await readFile(path, 'utf8').catch(() => undefined);
      if (again !== text) continue;
      await unlink(path).catch(() => undefined);
      onStale(
        `Removed a stale lock ${path} (${holder.staleReason ?? 'stale'}, was ${describe(holder.info)})`,
      );
    }
    throw new QueueError('LOCKED', `Cannot take the lock ${path}: it keeps changing hands`);
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

async function createExclusive(path: string, content: string): Promise<void> {
  const handle = await open(path, 'wx', 0o644);
  try {
    await handle.writeFile(content, 'utf8');
  } finally {
    await handle.close();
  }
}

async function releaseLock(path: string, content: string): Promise<void> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  // Only our own lock: a lock another process took after ours was judged stale is not ours to remove.
  if (text === content) await unlink(path).catch(() => undefined);
}
