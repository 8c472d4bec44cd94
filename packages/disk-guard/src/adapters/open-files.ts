import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { utf8PathEncoding, type PathEncoding } from '../options.js';
import { isStrictlyInside } from '../paths.js';

// O_ACCMODE bits of the `flags:` line in /proc/<pid>/fdinfo/<fd> (octal): 1 = O_WRONLY, 2 = O_RDWR.
const ACCESS_MODE_MASK = 0o3;

/**
 * Finds files below `roots` that some process holds open for writing, by reading `/proc/<pid>/fd` links and, only
 * for links below a root, the `flags:` line of `/proc/<pid>/fdinfo/<fd>`. Linux only: elsewhere (no `/proc`) it
 * returns `undefined`, meaning "unknown", and the gate skips this check.
 *
 * Synchronous on purpose: /proc lives in memory, and a few thousand tiny synchronous reads cost less than the same
 * number of promise round trips (see the benchmark). Processes of other users are invisible to an unprivileged
 * caller (EACCES); they are skipped, so the result is a best effort, never a guarantee. Link targets are read as
 * bytes and named through `encoding`, the same form the gate's real paths have, so a file whose name is not valid
 * UTF-8 is still recognised as open.
 */
export async function scanProcForWriters(
  roots: readonly string[],
  encoding: PathEncoding = utf8PathEncoding,
): Promise<ReadonlySet<string> | undefined> {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined;
  }
  const writers = new Set<string>();
  if (roots.length === 0) return writers;
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // exited, or not ours to read
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = encoding.fromFs(readlinkSync(`/proc/${pid}/fd/${fd}`, { encoding: 'buffer' }));
      } catch {
        continue;
      }
      if (!roots.some((root) => isStrictlyInside(target, root))) continue;
      try {
        const info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'latin1');
        const flags = /^flags:\s+([0-7]+)$/m.exec(info)?.[1];
        if (flags !== undefined && (parseInt(flags, 8) & ACCESS_MODE_MASK) !== 0) writers.add(target);
      } catch {
        continue;
      }
    }
  }
  return writers;
}
