import { dirname } from 'node:path';
import type { FoundFile } from '../adapters/files.js';
import type { IncidentWindow } from './time.js';

/** A file of a log directory, as the incident window judges it. */
export interface ListedFile extends FoundFile {
  /** The configured directory's `source`. */
  source: string;
  /** When the file was created (statx birth time), when the filesystem knows it; 0 or undefined otherwise. */
  birthtimeMs?: number;
}

/**
 * When writes to `file` may have begun: its birth time when the filesystem records one no later than its mtime (a
 * copy with `cp -p` or an extracted archive is born after its mtime, which then says nothing), otherwise the mtime of
 * the file modified just before it in the same folder (a rotated log's successor starts where it stopped), and for
 * the oldest file of a folder, the beginning of time.
 */
function firstWrite(file: ListedFile, previous: ListedFile | undefined): number {
  const born = file.birthtimeMs;
  if (born !== undefined && born > 0 && born <= file.mtimeMs) return born;
  return previous ? previous.mtimeMs : -Infinity;
}

/**
 * The files whose modification window overlaps `window` (pure). A file's modification window runs from its first
 * write (see `firstWrite`: its birth time, or else the previous file's mtime in its folder) to its mtime (its last
 * write); it overlaps when `mtime >= since` and `first write <= until`. So a file last written before the window is
 * out, one created after it is out, and a log written across the window (started before it, still written after) is
 * in. Without a birth time the guess errs towards sending: the first file written after the window is in when the
 * file before it ended inside the window. Result: in the order given.
 */
export function selectWindow(files: readonly ListedFile[], window: IncidentWindow): ListedFile[] {
  const byFolder = new Map<string, ListedFile[]>();
  for (const file of files) {
    const folder = dirname(file.path);
    const list = byFolder.get(folder);
    if (list) list.push(file);
    else byFolder.set(folder, [file]);
  }
  const selected = new Set<ListedFile>();
  for (const list of byFolder.values()) {
    const ordered = [...list].sort((a, b) => a.mtimeMs - b.mtimeMs || (a.path < b.path ? -1 : 1));
    ordered.forEach((file, i) => {
      if (file.mtimeMs >= window.since && firstWrite(file, ordered[i - 1]) <= window.until)
        selected.add(file);
    });
  }
  return files.filter((file) => selected.has(file));
}
