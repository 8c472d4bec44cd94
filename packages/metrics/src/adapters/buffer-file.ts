import { readFileSync, renameSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { isMetricPoint, type MetricPoint } from '../points.js';

/** What the buffer file holds. `version` lets a later release read an older file. */
interface BufferFileContent {
  version: 1;
  points: MetricPoint[];
}

/** What {@link loadBuffer} found. */
export interface LoadedBuffer {
  points: MetricPoint[];
  /** Entries that were not valid points (skipped). */
  invalid: number;
  /** Set when the file could not be parsed and was moved aside to this path. */
  movedAside?: string;
}

/**
 * Reads the buffer synchronously: it runs once, in the factory, so the first snapshot already counts what an
 * earlier process left unsent. A missing file is an empty buffer; an unreadable one is moved aside (kept for a
 * post-mortem) rather than overwritten.
 */
export function loadBuffer(file: string, now: number): LoadedBuffer {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { points: [], invalid: 0 };
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    const aside = `${file}.corrupt-${now}`;
    renameSync(file, aside);
    return { points: [], invalid: 0, movedAside: aside };
  }
  const list = (parsed as Partial<BufferFileContent> | null)?.points;
  if (!Array.isArray(list)) {
    const aside = `${file}.corrupt-${now}`;
    renameSync(file, aside);
    return { points: [], invalid: 0, movedAside: aside };
  }
  const points = list.filter(isMetricPoint);
  return { points, invalid: list.length - points.length };
}

/**
 * Replaces the buffer file atomically: write a temp file beside it, fsync it, rename it over the old one, fsync
 * the directory. A power cut leaves either the old or the new buffer, never a torn one (the old daemon's state
 * files were rewritten in place and never fsync'ed).
 */
export async function saveBuffer(file: string, points: readonly MetricPoint[]): Promise<void> {
  const directory = dirname(file);
  await mkdir(directory, { recursive: true });
  const temp = join(directory, `.${basename(file)}.${process.pid}.tmp`);
  const content: BufferFileContent = { version: 1, points: [...points] };
  try {
    const handle = await open(temp, 'w', 0o600);
    try {
      await handle.writeFile(JSON.stringify(content));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await syncDirectory(directory);
}

async function syncDirectory(directory: string): Promise<void> {
  let handle;
  try {
    handle = await open(directory, 'r');
    await handle.sync();
  } catch {
    // Some filesystems refuse fsync on a directory; the rename itself is still atomic there.
  } finally {
    await handle?.close();
  }
}
