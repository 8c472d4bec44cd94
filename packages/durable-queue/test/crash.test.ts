import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStateStore } from '../src/index.js';
import { killAfter, recordingLogger, spawnFixture, tempDir } from './helpers.js';

/** Where a path is: [in the queue, on the failed list, in the registry]. */
type Place = 'queued' | 'gone' | 'failed' | 'marked';

const after: Record<string, Place> = {
  A: 'queued',
  U: 'queued',
  R: 'gone',
  F: 'failed',
  Q: 'queued',
  M: 'marked',
};

interface Known {
  /** The last state the child reported durable. */
  durable: Place;
  /** An operation that had started but was not reported durable when the child died. */
  pending?: string;
}

/** At least this many kills; more while the time budget lasts (the machine may be busy: CI runs every package). */
const MIN_ROUNDS = 8;
const MAX_ROUNDS = 24;
const BUDGET_MS = 20_000;

describe('a store killed with SIGKILL', () => {
  it(
    'reopens with every flushed change and no removed-and-flushed entry, many times over',
    { timeout: 120_000 },
    async () => {
      const dir = await tempDir();
      const known = new Map<string, Known>();
      let durableOps = 0;

      const started = Date.now();
      let round = 0;
      for (; round < MAX_ROUNDS && (round < MIN_ROUNDS || Date.now() - started < BUDGET_MS); round++) {
        const child = spawnFixture('crash-child.ts', [dir, String(round)]);
        // Kill after a random number of acknowledged operations (a count, not a delay, so a busy machine still
        // gets thousands of operations done), or now and then within milliseconds of the start. The child writes
        // all the time, so the kill lands in the middle of a write more often than not.
        const target = round % 4 === 0 ? 0 : 100 + Math.floor(Math.random() * 300);
        const lines = await killAfter(child, /^[A-Z] /, target);

        for (const line of lines) {
          const [op, path] = line.split(' ');
          if (!op || !path) continue;
          const entry = known.get(path) ?? { durable: 'gone' };
          if (op === op.toLowerCase()) {
            entry.pending = op.toUpperCase();
          } else {
            entry.durable = after[op] as Place;
            delete entry.pending;
            durableOps++;
          }
          known.set(path, entry);
        }

        // Every file parses as it is on disk: no reliance on the backup.
        for (const name of ['queue.json', 'failed.json', 'processed_files.json']) {
          const text = await readFile(join(dir, name), 'utf8').catch(() => undefined);
          if (text !== undefined)
            expect(() => JSON.parse(text), `${name} after round ${round}`).not.toThrow();
        }
        const logger = recordingLogger();
        const store = await openStateStore({ directory: dir, logger });
        expect(
          logger.lines.filter((l) => !/stale lock|both queued and failed|cut short by a crash/.test(l)),
          `round ${round}`,
        ).toEqual([]);
        const where = (path: string): Place => {
          if (store.queue.has(path)) return 'queued';
          if (store.failed.has(path)) return 'failed';
          if (store.registry.has({ filepath: path, size: 1, mtimeMs: 1 })) return 'marked';
          return 'gone';
        };
        for (const [path, entry] of known) {
          const allowed = new Set<Place>([entry.durable]);
          if (entry.pending) allowed.add(after[entry.pending] as Place);
          // A mark is two steps (registry, then queue): between them the file is in both, and counts as queued.
          if (entry.pending === 'M') allowed.add('queued');
          const place = where(path);
          if (!allowed.has(place)) {
            throw new Error(`round ${round}: ${path} is ${place}, expected ${[...allowed].join(' or ')}`);
          }
          // The verified state is the new truth for the next round.
          entry.durable = place;
          delete entry.pending;
        }
        await store.close();
      }

      expect((await readdir(dir)).filter((n) => n.includes('.corrupt-'))).toEqual([]);
      // The test must have done real work: thousands of acknowledged durable operations.
      expect(durableOps).toBeGreaterThan(1000);
      expect(round).toBeGreaterThanOrEqual(MIN_ROUNDS);
    },
  );
});
