import { realpathSync } from 'node:fs';
import { isAbsolute, normalize, sep } from 'node:path';
import { decodeFileName, encodeFileName } from './file-names.js';
import type { Placement } from './pipeline/ports.js';

/** A configured log directory with its resolved (real) path. */
export interface LogHome {
  source: string;
  /** As configured (may be, or pass through, a symlink). */
  configured: string;
  /** The real path; `configured` while the directory does not exist. */
  root: string;
}

/** The components of an absolute, normalised path (`/a/b` -> `['a', 'b']`). */
function components(path: string): string[] {
  return path.split(sep).filter((c) => c !== '');
}

/** True when `path`'s components start with all of `root`'s (never a textual prefix: `/logs2` is not in `/logs`). */
export function withinDirectory(path: string, root: string): boolean {
  const a = components(path);
  const b = components(root);
  return b.length < a.length && b.every((c, i) => a[i] === c);
}

/**
 * Where a queued path belongs, decided on the text alone (the uploader then opens it without following any
 * symlink). A path must be absolute and already normalised (no `.`/`..` components, no doubled slashes: a hand
 * edit such as `.../terminal/../../../etc/hostname` is refused, not resolved), and lie inside a configured log
 * directory, compared component by component against the resolved roots and, for entries written before the
 * directory was resolved, the configured paths. A path given by the configured form is opened by the resolved one.
 * The entry's `source` chooses between directories that both contain the path; otherwise the deepest wins.
 */
export function placeFile(
  filepath: string,
  source: string | undefined,
  homes: readonly LogHome[],
): Placement {
  if (!isAbsolute(filepath)) {
    return { ok: false, category: 'not-in-log-directory', reason: 'not an absolute path' };
  }
  if (normalize(filepath) !== filepath || filepath.endsWith(sep)) {
    return {
      ok: false,
      category: 'not-in-log-directory',
      reason: `not a normalised path (it would be ${normalize(filepath)}); "." and ".." components are not followed`,
    };
  }
  const matches: Array<{ home: LogHome; viaConfigured: boolean }> = [];
  for (const home of homes) {
    if (withinDirectory(filepath, home.root)) matches.push({ home, viaConfigured: false });
    else if (withinDirectory(filepath, home.configured)) matches.push({ home, viaConfigured: true });
  }
  if (matches.length === 0) {
    return { ok: false, category: 'not-in-log-directory', reason: 'not under any configured log directory' };
  }
  const depth = (m: { home: LogHome; viaConfigured: boolean }) =>
    components(m.viaConfigured ? m.home.configured : m.home.root).length;
  const chosen =
    matches.find((m) => m.home.source === source) ?? [...matches].sort((x, y) => depth(y) - depth(x))[0]!;
  const { home } = chosen;
  const rest = components(filepath).slice(
    components(chosen.viaConfigured ? home.configured : home.root).length,
  );
  return { ok: true, source: home.source, root: home.root, path: [home.root, ...rest].join(sep) };
}

/**
 * The configured log directories, resolved. A directory missing at start (or a re-pointed symlink) may resolve
 * differently later: a path that fits nowhere re-resolves them once before it is refused.
 */
export class LogDirectories {
  readonly homes: LogHome[];

  constructor(directories: ReadonlyArray<{ path: string; source: string }>) {
    this.homes = directories.map((d) => ({ source: d.source, configured: d.path, root: resolve(d.path) }));
  }

  locate(filepath: string, source: string | undefined): Placement {
    const first = placeFile(filepath, source, this.homes);
    if (first.ok || first.reason !== 'not under any configured log directory') return first;
    // Rare: a sync lookup is fine.
    for (const home of this.homes) home.root = resolve(home.configured);
    return placeFile(filepath, source, this.homes);
  }
}

function resolve(path: string): string {
  try {
    // As bytes, and the native call: a real path that is not valid UTF-8 must match the detector's form of it
    // (file-names.ts), and Node's JS realpathSync reads symlink targets as UTF-8 strings, losing such bytes.
    return decodeFileName(realpathSync.native(encodeFileName(path), { encoding: 'buffer' }));
  } catch {
    return path;
  }
}
