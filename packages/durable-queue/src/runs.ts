/** Between two entries of a list file: one entry per line, indented under `"files"`. */
export const SEPARATOR = ',\n    ';

/** About how many characters of entry lines one cached run holds. */
export const RUN_CHARS = 16 * 1024;

/** A run of consecutive entries (frozen: replaced on change, never mutated) and their lines joined. */
interface Run {
  readonly entries: readonly object[];
  readonly text: string;
}

function matches(run: Run, entries: readonly object[], at: number): boolean {
  if (at + run.entries.length > entries.length) return false;
  for (let k = 0; k < run.entries.length; k++) if (run.entries[k] !== entries[at + k]) return false;
  return true;
}

/**
 * The lines of a list file (`queue.json`, `failed.json`), cached by runs of consecutive entries rather than by
 * entry: a rewrite re-serialises only the runs in which an entry was added, changed or removed, and reuses the
 * others' text as it is. A run's text is one flat string (its lines joined), so the cache costs about the file's
 * size; one cached line per entry cost half as much again (`JSON.stringify` returns a rope of small pieces) plus a
 * weak-map slot each.
 */
export class LineRuns {
  /** By a run's first entry. Runs of entries no longer listed go with their first entry. */
  readonly #byFirst = new WeakMap<object, Run>();
  readonly #size: number;

  constructor(size = RUN_CHARS) {
    this.#size = size;
  }

  /**
   * The texts of consecutive runs of `entries` (which must not change while this is iterated), each the lines of
   * its entries joined by {@link SEPARATOR}: joined by it in turn they make `entries.map(JSON.stringify)` joined.
   */
  *texts(entries: readonly object[]): Generator<string, void, undefined> {
    let i = 0;
    while (i < entries.length) {
      const first = entries[i] as object;
      const cached = this.#byFirst.get(first);
      if (cached && matches(cached, entries, i)) {
        yield cached.text;
        i += cached.entries.length;
        continue;
      }
      const lines = [JSON.stringify(first)];
      let chars = (lines[0] as string).length;
      const start = i++;
      for (; i < entries.length && chars < this.#size; i++) {
        const entry = entries[i] as object;
        const other = this.#byFirst.get(entry);
        if (other) {
          // A run that still holds starts here: the new one ends before it. One that no longer holds would never
          // be used again while its first entry stays listed: it goes now.
          if (matches(other, entries, i)) break;
          this.#byFirst.delete(entry);
        }
        const line = JSON.stringify(entry);
        lines.push(line);
        chars += line.length;
      }
      const run: Run = { entries: entries.slice(start, i), text: lines.join(SEPARATOR) };
      this.#byFirst.set(first, run);
      yield run.text;
    }
  }
}
