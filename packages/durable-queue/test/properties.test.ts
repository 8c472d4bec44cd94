import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readStateSnapshot, type StateStore } from '../src/index.js';
import { parseQueueFile, serialiseList } from '../src/formats.js';
import { normaliseQueueEntry, QUEUE_KNOWN } from '../src/entries.js';
import { fixture } from './helpers.js';

const paths = ['/l/a', '/l/b', '/l/c', '/l/d', '/l/e'];
const path = fc.constantFrom(...paths);

type Op =
  | { op: 'add'; path: string; size: number }
  | { op: 'update'; path: string; attempts: number }
  | { op: 'remove'; path: string }
  | { op: 'fail'; path: string }
  | { op: 'requeue'; target: string }
  | { op: 'mark'; path: string; size: number }
  | { op: 'flush' };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('add' as const), path, size: fc.nat(1000) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('update' as const), path, attempts: fc.nat(10) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('remove' as const), path }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('fail' as const), path }) },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('requeue' as const), target: fc.constantFrom(...paths, 'all') }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('mark' as const), path, size: fc.nat(3) }) },
  { weight: 2, arbitrary: fc.constant({ op: 'flush' as const }) },
);

/** The reference: plain maps, applied in the same order. */
class Model {
  queue = new Map<string, { size: number | undefined; attempts: number }>();
  failed = new Map<string, { size: number | undefined; attempts: number }>();
  registry = new Map<string, number>();

  apply(o: Op): void {
    switch (o.op) {
      case 'add':
        if (!this.queue.has(o.path)) {
          this.queue.set(o.path, { size: o.size, attempts: 0 });
          this.failed.delete(o.path);
        }
        break;
      case 'update': {
        const e = this.queue.get(o.path);
        if (e) this.queue.set(o.path, { ...e, attempts: o.attempts });
        break;
      }
      case 'remove':
        this.queue.delete(o.path);
        break;
      case 'fail': {
        const e = this.queue.get(o.path);
        this.queue.delete(o.path);
        this.failed.delete(o.path);
        this.failed.set(o.path, { size: e?.size, attempts: e?.attempts ?? 0 });
        break;
      }
      case 'requeue':
        for (const [p, e] of [...this.failed]) {
          if (o.target !== 'all' && o.target !== p) continue;
          this.failed.delete(p);
          if (!this.queue.has(p)) this.queue.set(p, { size: e.size, attempts: 0 });
        }
        break;
      case 'mark':
        this.registry.set(`${o.path}::${o.size}`, o.size);
        break;
      case 'flush':
        break;
    }
  }

  view() {
    return {
      queue: [...this.queue].map(([p, e]) => [p, e.size, e.attempts]),
      failed: [...this.failed].map(([p, e]) => [p, e.size, e.attempts]),
      registry: [...this.registry.keys()],
    };
  }
}

function run(store: StateStore, o: Op): Promise<unknown> {
  switch (o.op) {
    case 'add':
      return store.queue.add({ filepath: o.path, size: o.size });
    case 'update':
      return store.queue.update(o.path, { attempts: o.attempts });
    case 'remove':
      return store.queue.remove(o.path);
    case 'fail':
      return store.failed.add({ filepath: o.path, category: 'not_found', message: 'gone' });
    case 'requeue':
      return store.failed.requeue(o.target);
    case 'mark':
      return store.registry.mark({ filepath: o.path, size: o.size, mtimeMs: 1, key: `k${o.path}` });
    case 'flush':
      return store.flush();
  }
}

type Entryish = { filepath: string; size?: number; attempts: number };
const view = (state: {
  queue: Entryish[];
  failed: Entryish[];
  registry: Array<{ filepath: string; size: number }>;
}) => ({
  queue: state.queue.map((e) => [e.filepath, e.size, e.attempts]),
  failed: state.failed.map((e) => [e.filepath, e.size, e.attempts]),
  registry: state.registry.map((e) => `${e.filepath}::${e.size}`),
});

describe('openStateStore (properties)', () => {
  it('after every flush the files hold exactly the state so far, and a reopen gives it back', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 40 }), async (ops) => {
        const f = await fixture();
        const store = await f.open();
        const model = new Model();
        const inFlight: Promise<unknown>[] = [];
        for (const o of ops) {
          // Not awaited: the operations overlap as they do in the agent, and share writes.
          inFlight.push(run(store, o));
          model.apply(o);
          if (o.op === 'flush') {
            await store.flush();
            expect(view(await readStateSnapshot({ directory: f.dir }))).toEqual(model.view());
          }
        }
        await Promise.all(inFlight);
        await store.close();
        const reopened = await f.open();
        expect(
          view({
            queue: reopened.queue.list(),
            failed: reopened.failed.list(),
            registry: reopened.registry.list(),
          }),
        ).toEqual(model.view());
        await reopened.close();
      }),
      { numRuns: 60 },
    );
  });

  it('keeps any unknown fields of an entry through a rewrite', () => {
    const extras = fc.dictionary(
      fc.string().filter((k) => !QUEUE_KNOWN.has(k)),
      fc.jsonValue(),
    );
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), extras, (filepath, extra) => {
        const entry = normaliseQueueEntry({ ...extra, filepath }, 1, { strict: true, problems: [] });
        const parsed = parseQueueFile(serialiseList([JSON.stringify(entry)]), 2);
        expect(parsed.problems).toEqual([]);
        // Compared as JSON: JSON has no -0, so a generated -0 comes back as 0, as with any JSON file.
        expect(JSON.stringify(parsed.entries)).toEqual(JSON.stringify([entry]));
        expect(JSON.parse(JSON.stringify(parsed.entries[0]))).toEqual(
          JSON.parse(JSON.stringify({ ...extra, ...entry })),
        );
      }),
    );
  });
});
