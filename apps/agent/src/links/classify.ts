/** How an interface's traffic is paid for: `neither` = named in neither list, uploads behave as without networks. */
export type LinkClass = 'metered' | 'unmetered' | 'neither';

/** The two lists of `upload.networks`. */
export interface NetworkLists {
  unmetered: readonly string[];
  metered: readonly string[];
}

/** Whether an interface name matches a glob: `*` any run of characters, `?` one character, the rest literally. */
export function matchesInterface(glob: string, name: string): boolean {
  const source = glob.replace(/[.+^${}()|[\]\\*?]/g, (c) => (c === '*' ? '.*' : c === '?' ? '.' : `\\${c}`));
  return new RegExp(`^${source}$`).test(name);
}

/**
 * The class of an interface. A name in both lists is metered (the costly reading wins); no interface (no route to
 * the endpoint) is `neither`, as uploads will fail and be retried as they would without this feature.
 */
export function classifyInterface(name: string | undefined, lists: NetworkLists): LinkClass {
  if (name === undefined) return 'neither';
  if (lists.metered.some((glob) => matchesInterface(glob, name))) return 'metered';
  if (lists.unmetered.some((glob) => matchesInterface(glob, name))) return 'unmetered';
  return 'neither';
}
