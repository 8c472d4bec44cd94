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
