import type { Clock } from './clock.js';
import type { StateKind } from './committer.js';
import type { FailedEntry, QueueEntry } from './entries.js';
import { QueueError } from './errors.js';

/** What the queue, the failed list and the registry share inside one store. */
export interface StoreCore {
  readonly clock: Clock;
  readonly queueEntries: Map<string, QueueEntry>;
  readonly failedEntries: Map<string, FailedEntry>;
  changed(...kinds: StateKind[]): Promise<void>;
  flush(): Promise<void>;
  /** Throws `CLOSED` after `close()`. */
  assertOpen(): void;
  /** Remembers a requeued entry until the write that moves it is durable (see the store's write order). */
  noteRequeued(entry: FailedEntry): void;
}

/** The `CLOSED` error. */
export function closedError(): QueueError {
  return new QueueError('CLOSED', 'The state store is closed');
}

/** Each entry's JSON line, computed once per (immutable) entry object. */
const lines = new WeakMap<object, string>();

/** The JSON line of a frozen entry, cached: entries are replaced on change, never mutated. */
export function lineOf(entry: object): string {
  let line = lines.get(entry);
  if (line === undefined) {
    line = JSON.stringify(entry);
    lines.set(entry, line);
  }
  return line;
}

/** The JSON lines of frozen entries, one at a time (each cached by {@link lineOf}). */
export function* linesOf(entries: Iterable<object>): Generator<string, void, undefined> {
  for (const entry of entries) yield lineOf(entry);
}
