/** What the stability check looks at. */
export interface FileStat {
  size: number;
  mtimeMs: number;
}

interface Candidate extends FileStat {
  /** When this size and mtime were first seen (epoch ms). */
  since: number;
}

/** The verdict on one candidate file. */
export type Stability = 'ready' | 'waiting' | 'gone';

/**
 * Decides when a file is finished: its size and mtime have not changed for `stableMs`. A file whose mtime is
 * already `stableMs` old when first seen (a startup scan, a file moved into place) is ready at once: its mtime
 * says nobody wrote to it since. Pure state over an injected time; the caller stats the files.
 */
export class StabilityTracker {
  readonly #candidates = new Map<string, Candidate>();

  constructor(readonly stableMs: number) {}

  /** Files being watched for stability. */
  get size(): number {
    return this.#candidates.size;
  }

  /** The paths being watched. */
  paths(): IterableIterator<string> {
    return this.#candidates.keys();
  }

  /** True when `path` is being watched. */
  has(path: string): boolean {
    return this.#candidates.has(path);
  }

  /**
   * Records an observation of `path` at `now` (`stat` undefined = the file is gone) and says whether it is ready.
   * A ready or gone file is forgotten; observe it again to watch it anew.
   */
  observe(path: string, stat: FileStat | undefined, now: number): Stability {
    if (!stat) {
      this.#candidates.delete(path);
      return 'gone';
    }
    const known = this.#candidates.get(path);
    let since: number;
    if (known && known.size === stat.size && known.mtimeMs === stat.mtimeMs) since = known.since;
    else since = now - stat.mtimeMs >= this.stableMs ? stat.mtimeMs : now;
    if (now - since >= this.stableMs) {
      this.#candidates.delete(path);
      return 'ready';
    }
    this.#candidates.set(path, { size: stat.size, mtimeMs: stat.mtimeMs, since });
    return 'waiting';
  }

  /** When `path` could be ready at the earliest if it stays unchanged (epoch ms), or undefined if not watched. */
  readyAt(path: string): number | undefined {
    const known = this.#candidates.get(path);
    return known ? known.since + this.stableMs : undefined;
  }

  /** Stops watching `path`. */
  forget(path: string): void {
    this.#candidates.delete(path);
  }
}
