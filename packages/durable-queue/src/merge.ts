/** What an outside edit of a state file changed, as merged into memory. */
export interface MergeResult {
  readonly added: number;
  readonly changed: number;
  readonly removed: number;
  /** The paths the edit added or changed (now as the edit has them in memory). */
  readonly taken: readonly string[];
}

/**
 * Three-way merge of an edit made outside the store (an operator's `nano queue.json`, the runbook's "Option 3")
 * into memory. `base` is what the store last wrote (or loaded), `theirs` the file on disk now, `ours` memory.
 * For each path: when `theirs` differs from `base` (added, changed or removed by the edit) the edit wins, else
 * memory's version stays (the store's own changes since its last write). Entries compare by their JSON line.
 * Mutates `ours`; new paths are appended, in the edit's order.
 */
export function mergeEdit<T extends { readonly filepath: string }>(
  base: ReadonlyMap<string, T>,
  theirs: ReadonlyMap<string, T>,
  ours: Map<string, T>,
): MergeResult {
  let added = 0;
  let changed = 0;
  let removed = 0;
  const taken: string[] = [];
  for (const [path, entry] of theirs) {
    const before = base.get(path);
    if (before !== undefined && JSON.stringify(before) === JSON.stringify(entry)) continue;
    if (before === undefined) added++;
    else changed++;
    ours.set(path, entry);
    taken.push(path);
  }
  for (const path of base.keys()) {
    if (theirs.has(path)) continue;
    removed++;
    ours.delete(path);
  }
  return { added, changed, removed, taken };
}
