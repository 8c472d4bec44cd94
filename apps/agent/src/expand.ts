/** What string expansion reads: the environment and the home directory. */
export interface ExpandContext {
  env: Readonly<Record<string, string | undefined>>;
  homedir: string;
}

/**
 * Expands `${VAR}`, `$VAR` and a leading `~` (alone or followed by `/`) in one string, as the old daemon's
 * `os.path.expandvars(os.path.expanduser(...))` did. An unset variable is left as written (Python does the same)
 * and reported through `onUnset`, so a typo shows up as a warning instead of a path under the current directory.
 */
export function expandString(
  value: string,
  context: ExpandContext,
  onUnset?: (name: string) => void,
): string {
  let out = value;
  if (out === '~' || out.startsWith('~/')) out = context.homedir + out.slice(1);
  return out.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (match, braced, bare) => {
    const name = (braced ?? bare) as string;
    const found = context.env[name];
    if (found === undefined) {
      onUnset?.(name);
      return match;
    }
    return found;
  });
}

/** Applies {@link expandString} to every string inside a parsed YAML document (keys are left alone). */
export function expandAll(
  value: unknown,
  context: ExpandContext,
  onUnset?: (name: string, path: string) => void,
): unknown {
  const visit = (node: unknown, path: string): unknown => {
    if (typeof node === 'string')
      return expandString(node, context, onUnset && ((name) => onUnset(name, path)));
    if (Array.isArray(node)) return node.map((item, index) => visit(item, `${path}[${index}]`));
    if (typeof node === 'object' && node !== null) {
      const out: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(node)) out[key] = visit(child, path ? `${path}.${key}` : key);
      return out;
    }
    return node;
  };
  return visit(value, '');
}
