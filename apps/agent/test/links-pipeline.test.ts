import { createFakeClock } from '@tvm/test-utils';
import { describe, expect, it } from 'vitest';
import type { Lane } from '../src/lanes.js';
import { LogDirectories } from '../src/log-directories.js';
import { Pipeline } from '../src/pipeline/index.js';
import type { Admission } from '../src/pipeline/ports.js';
import { MemoryBucket, MemoryStore, MemoryVolume, pipelineDefaults } from './fakes.js';
import { captureLogger } from './helpers.js';

/** The pipeline's side of the Admission port, with an admission the test steers. */
describe('Pipeline with an admission', () => {
  it('leaves a refused entry queued untouched, asks again on pump (outside a run too), and reports bytes sent', async () => {
    const clock = createFakeClock(1_800_000_000_000);
    const store = new MemoryStore(() => clock.now());
    const volume = new MemoryVolume();
    const bucket = new MemoryBucket(volume);
    const logger = captureLogger();
    const directories = new LogDirectories([{ path: '/logs/terminal', source: 'terminal' }]);
    let open = false;
    const asked: Array<[string, Lane, number]> = [];
    const sent: Array<[string, Lane, number]> = [];
    const admission: Admission = {
      mayStart: (entry, lane, size) => {
        asked.push([entry.filepath, lane, size]);
        return open || lane === 'high' ? { ok: true } : { ok: false, reason: 'wwan0 is metered' };
      },
      mayContinue: () => undefined,
      sent: (entry, lane, bytes) => void sent.push([entry.filepath, lane, bytes]),
    };
    const pipeline = new Pipeline({
      ...pipelineDefaults(directories),
      admission,
      store,
      objects: () => bucket,
      files: volume,
      clock,
      logger,
      concurrency: 2,
    });
    volume.write('/logs/terminal/n.log', 'normal file\n');
    volume.write('/logs/terminal/h.log', 'high\n');
    store.add({ filepath: '/logs/terminal/n.log', source: 'terminal', size: 12 });
    store.add({ filepath: '/logs/terminal/h.log', source: 'terminal', size: 5, priority: 'high' });
    pipeline.startRun('test');
    await pipeline.idle();
    pipeline.pump();
    await pipeline.idle();
    expect([...bucket.objects.keys()]).toEqual(['v1/terminal/h.log']);
    expect(store.entries.get('/logs/terminal/n.log')).toMatchObject({ attempts: 0, nextAttemptAt: 0 });
    expect(store.entries.get('/logs/terminal/n.log')?.lastError).toBeUndefined();
    expect(pipeline.status().runActive).toBe(false);
    expect(asked).toContainEqual(['/logs/terminal/n.log', 'normal', 12]);
    expect(asked).toContainEqual(['/logs/terminal/h.log', 'high', 5]);
    expect(sent).toEqual([['/logs/terminal/h.log', 'high', 5]]);
    expect(logger.lines.filter((l) => l.includes('n.log waits: wwan0 is metered'))).toHaveLength(1);

    open = true; // the route changed: the admission wakes the pipeline, no run is needed
    pipeline.pump();
    await pipeline.idle();
    expect([...bucket.objects.keys()].sort()).toEqual(['v1/terminal/h.log', 'v1/terminal/n.log']);
    expect(store.entries.size).toBe(0);
    expect(sent).toContainEqual(['/logs/terminal/n.log', 'normal', 12]);
  });
});
