/**
 * Compiles a basename glob (the `pattern` of a log directory, e.g. `syslog.[1-9]*`) into a predicate, with the
 * semantics of Python's `fnmatch` that the original configuration was written for: `*` any run of characters,
 * `?` one character, `[abc]` / `[a-z]` a set, `[!abc]` a negated set. A `[` without a closing `]` is literal.
 */
export function compileGlob(pattern: string): (name: string) => boolean {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i] as string;
    if (char === '*') {
      source += '.*';
    } else if (char === '?') {
      source += '.';
    } else if (char === '[') {
      const close = findClose(pattern, i);
      if (close < 0) {
        source += '\\[';
        continue;
      }
      let body = pattern.slice(i + 1, close);
      let negate = false;
      if (body.startsWith('!')) {
        negate = true;
        body = body.slice(1);
      }
      source += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/g, (c) => `\\${c}`)}]`;
      i = close;
    } else {
      source += char.replace(/[.*+?^${}()|[\]\\/]/g, (c) => `\\${c}`);
    }
  }
  const regex = new RegExp(`^${source}$`, 's');
  return (name) => regex.test(name);
}

// fnmatch lets `]` right after `[` or `[!` be a member of the set rather than its end.
function findClose(pattern: string, open: number): number {
  let j = open + 1;
  if (pattern[j] === '!') j++;
  if (pattern[j] === ']') j++;
  const close = pattern.indexOf(']', j);
  return close;
}
