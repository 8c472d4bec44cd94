import { createFakeClock } from '@tvm/test-utils';
import { describe, expect, it } from 'vitest';
import type { Lane } from '../src/lanes.js';
import { LinkWatch } from '../src/links/index.js';
import { LogDirectories } from '../src/log-directories.js';
import { Pipeline } from '../src/pipeline/index.js';
import type { Admission } from '../src/pipeline/ports.js';
import { MemoryBucket, MemoryLink, MemoryStore, MemoryVolume, pipelineDefaults } from './fakes.js';
import { captureLogger } from './helpers.js';
import { admissionOver, defaultRouteOver } from './links-rig.js';

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

describe('Pipeline with the metered-link admission (fake clock)', () => {
  it('a route switch mid-upload pauses the next part; the 10 s check notices the way back and the upload resumes with the same upload, no part resent', async () => {
    const PART = 1_000_000;
    const clock = createFakeClock(1_800_000_000_000);
    const store = new MemoryStore(() => clock.now());
    const volume = new MemoryVolume();
    // 0.5 MB/s: a part takes 2 s, twice as long as a route reading is reused.
    const bucket = new MemoryLink(volume, { clock, bytesPerMs: PART / 2000, partSize: PART });
    const logger = captureLogger();
    const directories = new LogDirectories([{ path: '/logs/ros', source: 'ros' }]);
    let tables = defaultRouteOver('wlan0');
    const watch = new LinkWatch({
      host: { host: '10.213.9.1', literal: true },
      lists: { unmetered: ['wlan*'], metered: ['wwan*'] },
      clock,
      logger,
      readTables: () => tables,
    });
    const { admission, budget } = await admissionOver(watch, {
      clock,
      logger,
      wake: () => pipeline.pump(),
      budgetBytes: 100 * PART,
    });
    const pipeline = new Pipeline({
      ...pipelineDefaults(directories),
      admission,
      store,
      objects: () => bucket,
      files: volume,
      clock,
      logger,
    });
    const bag = '/logs/ros/run.bag';
    volume.write(bag, Buffer.alloc(5 * PART, 'b'), clock.now() - 3_600_000);
    store.add({ filepath: bag, source: 'ros', size: 5 * PART });
    admission.start();
    pipeline.uploadNow([bag]);
    await clock.advance(3_000); // part 1 acknowledged over wlan0, part 2 on its way
    tables = defaultRouteOver('wwan0');
    await clock.advance(30_000); // part 2 finishes; part 3 asks, on wwan0 now: paused; three checks pass
    expect(bucket.partsSent.get('v1/ros/run.bag')).toEqual([1, 2]);
    expect(logger.lines).toContain(
      `Upload of ${bag} paused after its current part (the route to S3 is over wwan0 (metered): only the lanes high (and incident) go there, this file is normal); it resumes later`,
    );
    expect(store.entries.get(bag)?.multipart).toMatchObject({ uploadId: 'upload-1' });
    // Part 2 was acknowledged while the route was metered: it counts.
    expect(budget.usedToday()).toBe(PART);

    tables = defaultRouteOver('wlan0');
    const back = clock.now();
    await clock.advance(10_000); // the next check
    expect(logger.lines.filter((l) => l.startsWith('Route to S3: over wlan0'))).toHaveLength(2);
    await clock.advance(3 * 2_000);
    await pipeline.idle();
    expect(bucket.landedAt.get('v1/ros/run.bag')).toBeLessThanOrEqual(back + 10_000 + 3 * 2_000);
    expect(bucket.partsSent.get('v1/ros/run.bag')).toEqual([1, 2, 3, 4, 5]);
    expect(bucket.creates.get('v1/ros/run.bag')).toBe(1);
    expect(store.entries.size).toBe(0);
    expect(budget.usedToday()).toBe(PART);
    admission.stop();
  });
});
