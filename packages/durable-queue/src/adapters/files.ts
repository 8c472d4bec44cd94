import { constants as fsConstants } from 'node:fs';
import {
  copyFile,
  link,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  unlink,
  type FileHandle,
} from 'node:fs/promises';
import { dirname } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { QueueError, messageOf } from '../errors.js';
import { identityOf, type FileIdentity } from '../identity.js';

const codeOf = (error: unknown): string | undefined =>
  typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;

/** Reads a file as UTF-8; `undefined` when it does not exist. Other failures are `READ_FAILED`. */
export async function readTextIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return undefined;
    throw new QueueError('READ_FAILED', `Cannot read ${path}: ${messageOf(error)}`, { cause: error });
  }
}

/** Creates a directory and its parents. */
export async function ensureDirectory(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    throw new QueueError('WRITE_FAILED', `Cannot create the state directory ${dir}: ${messageOf(error)}`, {
      cause: error,
    });
  }
}

/**
 * Makes a directory's entries (a rename, a link) durable. Without it a power cut after `rename` can bring back
 * the old name on ext4 even though the data blocks were synced.
 */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch (error) {
    // Some filesystems cannot fsync a directory; their renames are as durable as they will get.
    if (codeOf(error) !== 'EINVAL' && codeOf(error) !== 'EISDIR') throw error;
  } finally {
    await handle.close();
  }
}

/** Options of `writeFileAtomic()`. */
export interface WriteFileAtomicOptions {
  /** The mode of the file when it is created. @default 0o644 */
  mode?: number;
  /**
   * Keep the version being replaced as `<path>.bak` (a hard link to the old inode, so `path` exists at every
   * moment; a copy on filesystems without hard links). @default false
   */
  backup?: boolean;
}

let sequence = 0;

/**
 * The temp file of one write: unique per process and call, so that two overlapping writes of the same file never
 * share one. `<name>.<pid>-<n>.tmp` beside the target (a rename never crosses filesystems).
 */
const tempName = (path: string) => `${path}.${process.pid}-${sequence++}.tmp`;

/** Matches the temp files `writeFileAtomic()` leaves when the process dies mid-write, for `name`. */
export function isTempOf(name: string, candidate: string): boolean {
  if (!candidate.startsWith(`${name}.`) || !candidate.endsWith('.tmp')) return false;
  const middle = candidate.slice(name.length + 1, -'.tmp'.length);
  // `<name>.tmp` and `<name>.bak.tmp` are the names older versions of this package used.
  return /^((bak)?|(bak\.)?\d+-\d+)$/.test(middle);
}

/**
 * Keeps the current version of `path` as `path.bak` without a moment where `path` is missing: a hard link adds
 * a second name to the old inode, the rename of the new file over `path` then leaves `.bak` on the old one.
 */
async function keepBackup(path: string, staging: string): Promise<void> {
  try {
    await link(path, staging);
  } catch (error) {
    const code = codeOf(error);
    if (code === 'ENOENT') return;
    // Filesystems without hard links (FAT on a USB stick): copy instead.
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EXDEV' && code !== 'EOPNOTSUPP') throw error;
    await copyFile(path, staging);
  }
  await rename(staging, `${path}.bak`);
}

/**
 * Writes `chunks` (UTF-8) one after another at the file's current position, each encoded into one buffer reused
 * for all of them: a file of 20 MB never exists as one string or one buffer, nor as 300 buffers waiting for the
 * garbage collector. A short write continues where it stopped.
 */
async function writeChunks(handle: FileHandle, chunks: Iterable<string>): Promise<void> {
  let buffer = Buffer.allocUnsafe(0);
  for (const chunk of chunks) {
    // A UTF-16 code unit takes at most 3 bytes in UTF-8 (a surrogate pair, two units, takes 4).
    if (buffer.length < chunk.length * 3) buffer = Buffer.allocUnsafe(chunk.length * 3);
    const length = buffer.write(chunk, 0, 'utf8');
    for (let offset = 0; offset < length;) {
      const { bytesWritten } = await handle.write(buffer, offset, length - offset);
      offset += bytesWritten;
    }
  }
}

/**
 * Replaces `path` with `data` (a string, bytes, or strings to write one after another, each whole, never a surrogate
 * pair cut in two: a large state file streamed in chunks, never held whole) atomically and durably: a temp file
 * beside it, fsync, (the previous version to `.bak`,) rename over `path`, fsync of the directory. A reader sees the
 * old or the new content, never a mix, and an existing `path` exists at every moment. When any step fails (ENOSPC,
 * EDQUOT, EROFS, EIO) the temp files are removed before the promise rejects, so a full disk never fills up further
 * with them. Resolves with the identity of the file written (what `fstat` said after the fsync), so a later `stat`
 * can tell whether anyone else has written the file since.
 * @throws QueueError `WRITE_FAILED` naming the path; `cause` is the system error (its `code`: `ENOSPC`, ...).
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array | Iterable<string>,
  options: WriteFileAtomicOptions = {},
): Promise<FileIdentity> {
  const temp = tempName(path);
  const staging = `${path}.bak.${temp.slice(path.length + 1)}`;
  try {
    const handle = await open(temp, 'w', options.mode ?? 0o644);
    let identity: FileIdentity;
    try {
      if (typeof data === 'string' || data instanceof Uint8Array) await handle.writeFile(data);
      else await writeChunks(handle, data);
      await handle.sync();
      identity = identityOf(await handle.stat());
    } finally {
      await handle.close();
    }
    if (options.backup) await keepBackup(path, staging);
    await rename(temp, path);
    await syncDirectory(dirname(path));
    return identity;
  } catch (error) {
    await rm(temp, { force: true }).catch(() => undefined);
    if (options.backup) await rm(staging, { force: true }).catch(() => undefined);
    throw new QueueError('WRITE_FAILED', `Cannot write ${path}: ${messageOf(error)}`, { cause: error });
  }
}

/** Stats a file; `undefined` when it does not exist. */
export async function statIfExists(path: string): Promise<FileIdentity | undefined> {
  try {
    return identityOf(await stat(path));
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return undefined;
    throw new QueueError('READ_FAILED', `Cannot stat ${path}: ${messageOf(error)}`, { cause: error });
  }
}

/** Gives `path` a second name `<path>.<label>` (`-<n>` for the first free n), leaving `path` as it is. */
export async function keepCopy(path: string, label: string): Promise<string> {
  for (let n = 0; ; n++) {
    const target = n === 0 ? `${path}.${label}` : `${path}.${label}-${n}`;
    try {
      await link(path, target);
      return target;
    } catch (error) {
      const code = codeOf(error);
      if (code === 'EEXIST') continue;
      if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'EXDEV') {
        await copyFile(path, target, fsConstants.COPYFILE_EXCL);
        return target;
      }
      throw new QueueError('WRITE_FAILED', `Cannot keep a copy of ${path}: ${messageOf(error)}`, {
        cause: error,
      });
    }
  }
}

/** Writes a new file atomically under a name that must not exist yet (a request file). */
export async function createDurably(path: string, data: string): Promise<void> {
  const temp = `${path}.tmp`;
  try {
    const handle = await open(temp, 'wx', 0o644);
    try {
      await handle.writeFile(data, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
    await syncDirectory(dirname(path));
  } catch (error) {
    if (codeOf(error) !== 'EEXIST') await rm(temp, { force: true }).catch(() => undefined);
    throw new QueueError('WRITE_FAILED', `Cannot write ${path}: ${messageOf(error)}`, { cause: error });
  }
}

/** Renames `path` to `<path>.<label>-<n>` (first free n) and returns the new name. */
export async function setAside(path: string, label: string): Promise<string> {
  for (let n = 0; ; n++) {
    const target = n === 0 ? `${path}.${label}` : `${path}.${label}-${n}`;
    try {
      // link + unlink instead of rename: link refuses to overwrite an earlier set-aside copy.
      await link(path, target);
      await unlink(path);
      return target;
    } catch (error) {
      const code = codeOf(error);
      if (code === 'EEXIST') continue;
      if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP') {
        await rename(path, target);
        return target;
      }
      throw new QueueError('WRITE_FAILED', `Cannot set ${path} aside: ${messageOf(error)}`, { cause: error });
    }
  }
}

/** Removes a file; a missing file is fine. */
export async function removeFile(path: string): Promise<void> {
  await rm(path, { force: true });
}

/** The names in a directory; none when it does not exist. */
export async function listDirectory(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return [];
    throw new QueueError('READ_FAILED', `Cannot list ${dir}: ${messageOf(error)}`, { cause: error });
  }
}

/** Renames a file, replacing the target. */
export async function renameFile(from: string, to: string): Promise<void> {
  await rename(from, to);
}

/**
 * Calls `visit` with each line of a file, read in 1 MiB chunks (multi-byte characters split between chunks are
 * decoded whole). Resolves `undefined` when the file does not exist, `false` when `visit` stopped early, `true`
 * when every line was visited.
 */
export async function forEachLine(
  path: string,
  visit: (line: string) => boolean,
): Promise<boolean | undefined> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return undefined;
    throw new QueueError('READ_FAILED', `Cannot read ${path}: ${messageOf(error)}`, { cause: error });
  }
  try {
    const chunk = Buffer.allocUnsafe(1 << 20);
    const decoder = new StringDecoder('utf8');
    let carry = '';
    for (;;) {
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      const text = carry + (bytesRead > 0 ? decoder.write(chunk.subarray(0, bytesRead)) : decoder.end());
      let start = 0;
      for (let newline = text.indexOf('\n'); newline >= 0; newline = text.indexOf('\n', start)) {
        if (!visit(text.slice(start, newline))) return false;
        start = newline + 1;
      }
      carry = text.slice(start);
      if (bytesRead === 0) return carry === '' || visit(carry);
    }
  } catch (error) {
    if (error instanceof QueueError) throw error;
    throw new QueueError('READ_FAILED', `Cannot read ${path}: ${messageOf(error)}`, { cause: error });
  } finally {
    await handle.close();
  }
}
