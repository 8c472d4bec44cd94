import type { QueueEntry } from '@tvm/durable-queue';
import { createFakeClock, type FakeClock } from '@tvm/test-utils';
import { describe, expect, it } from 'vitest';
import { laneOf, type Lane } from '../src/lanes.js';
import { LogDirectories } from '../src/log-directories.js';
import { Pipeline, type Admission, type PipelineOptions } from '../src/pipeline/index.js';
import { MemoryLink, MemoryStore, MemoryVolume, pipelineDefaults } from './fakes.js';
import { captureLogger } from './helpers.js';

/** 1 MB/s on the fake clock, 1 MB parts: a part takes 1000 ms, a 10 kB file 10 ms. */
const PART = 1_000_000;
const PART_MS = 1000;

/** The pipeline on a link of fixed speed (fake clock), three directories in three lanes. */
function rig(patch: Partial<PipelineOptions> = {}) {
  const clock: FakeClock = createFakeClock(1_800_000_000_000);
  const store = new MemoryStore(() => clock.now());
  const volume = new MemoryVolume();
  const link = new MemoryLink(volume, { clock, bytesPerMs: PART / PART_MS, partSize: PART });
  const logger = captureLogger();
  const dirs = [
    { path: '/logs/ros', source: 'ros', priority: 'low' as const },
    { path: '/logs/syslog', source: 'syslog', priority: 'normal' as const },
    { path: '/logs/alerts', source: 'alerts', priority: 'high' as const },
  ];
  const directories = new LogDirectories(dirs);
  const pipeline = new Pipeline({
    ...pipelineDefaults(directories),
    store,
    objects: () => link,
    files: volume,
    clock,
    logger,
    concurrency: 1,
    lane: (entry) => laneOf(entry, { priority_rules: [], log_directories: dirs }),
    ...patch,
  });
  let seq = 0;
  /** Writes and queues `source/name` of `size` bytes (older files first: oldest_first follows the calls). */
  const queue = (source: string, name: string, size: number) => {
    const path = `/logs/${source}/${name}`;
    volume.write(path, Buffer.alloc(size, name), clock.now() - 3_600_000 + seq++);
    store.add({ filepath: path, source, size });
    return path;
  };
  const key = (path: string) => `v1${path.slice('/logs'.length)}`;
  return { clock, store, volume, link, logger, pipeline, queue, key };
}

describe('Pipeline lanes', () => {
  it('uploads higher lanes first and keeps upload.order inside a lane', async () => {
    const r = rig();
    r.queue('ros', 'old.bag', 10);
    r.queue('syslog', 'a.log', 10);
    r.queue('alerts', 'x.crash', 10);
    r.queue('syslog', 'b.log', 10);
    r.queue('alerts', 'y.crash', 10);
    r.pipeline.startRun('test');
    while (await r.clock.next()) {
      /* every upload finishes */
    }
    await r.pipeline.idle();
    expect([...r.link.objects.keys()]).toEqual([
      'v1/alerts/x.crash',
      'v1/alerts/y.crash',
      'v1/syslog/a.log',
      'v1/syslog/b.log',
      'v1/ros/old.bag',
    ]);
  });

  it('pauses a big low-lane upload after its current part for a high file, then resumes it with the same upload', async () => {
    const r = rig();
    const bag = r.queue('ros', 'run.bag', 10 * PART);
    r.pipeline.uploadNow([bag]);
    await r.clock.advance(2.5 * PART_MS); // parts 1 and 2 done, part 3 in flight
    const readyAt = r.clock.now();
    const crash = r.queue('alerts', 'planner.crash', 10_000);
    r.pipeline.uploadNow([crash]);
    await r.clock.advance(PART_MS);

    // The high file went at once (the bag's slot was handed over); the bag paused after part 3, its state kept.
    const landed = r.link.landedAt.get(r.key(crash));
    expect(landed).toBeDefined();
    expect((landed as number) - readyAt).toBeLessThanOrEqual(PART_MS);
    expect(r.link.objects.has(r.key(bag))).toBe(false);
    expect(r.logger.lines.join('\n')).toContain(
      `Pausing the low-lane upload of ${bag} after its current part: ${crash} (high lane) takes its slot`,
    );
    expect(r.logger.lines.join('\n')).toContain(`Upload of ${bag} paused after its current part`);

    while (await r.clock.next()) {
      /* the bag resumes and finishes */
    }
    await r.pipeline.idle();
    expect(r.link.objects.get(r.key(bag))?.length).toBe(10 * PART);
    expect(r.link.creates.get(r.key(bag))).toBe(1);
    expect(r.link.partsSent.get(r.key(bag))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(r.store.entries.size).toBe(0);
    expect(r.store.registered.map((e) => e.filepath)).toEqual([crash, bag]);
  });

  it('keeps the paused entry queued with its multipart state and no attempt counted', async () => {
    const r = rig();
    const bag = r.queue('ros', 'run.bag', 10 * PART);
    r.pipeline.uploadNow([bag]);
    await r.clock.advance(1.5 * PART_MS);
    // Two high files keep the slot long enough to look at the paused entry.
    const a = r.queue('alerts', 'a.crash', 3 * PART - 1);
    const b = r.queue('alerts', 'b.crash', 3 * PART - 1);
    r.pipeline.uploadNow([a, b]);
    await r.clock.advance(PART_MS);
    const entry = r.store.entries.get(bag) as QueueEntry;
    expect(entry).toMatchObject({ attempts: 0 });
    expect(entry.lastError).toBeUndefined();
    expect(entry.multipart?.parts.map((p) => p.partNumber)).toEqual([1, 2]);
    expect(r.pipeline.status()).toMatchObject({ inFlight: 1, lanes: { high: 1 } });
    while (await r.clock.next()) {
      /* all finish */
    }
    await r.pipeline.idle();
    expect(r.store.registered.map((e) => e.filepath)).toEqual([a, b, bag]);
    expect(r.link.creates.get(r.key(bag))).toBe(1);
  });

  it('small high files never wait longer than one part behind big low-lane uploads on every slot', async () => {
    const r = rig({ concurrency: 2 });
    const bags = [r.queue('ros', 'a.bag', 8 * PART), r.queue('ros', 'b.bag', 8 * PART)];
    r.pipeline.startRun('test');
    const waits: number[] = [];
    const smalls: Array<{ path: string; at: number }> = [];
    for (const offset of [1500, 1700, 1710, 3200, 5100, 5150, 9000]) {
      await r.clock.set(1_800_000_000_000 + offset);
      const path = r.queue('alerts', `${offset}.crash`, 20_000);
      smalls.push({ path, at: r.clock.now() });
      r.pipeline.uploadNow([path]);
    }
    while (await r.clock.next()) {
      /* all finish */
    }
    await r.pipeline.idle();
    for (const { path, at } of smalls) waits.push((r.link.landedAt.get(r.key(path)) as number) - at);
    expect(Math.max(...waits)).toBeLessThanOrEqual(PART_MS);
    for (const bag of bags) {
      expect(r.link.creates.get(r.key(bag))).toBe(1);
      expect(r.link.partsSent.get(r.key(bag))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    }
  });

  it('does not pause an upload of the same lane: upload.order decides inside a lane', async () => {
    const r = rig();
    const big = r.queue('syslog', 'big.log', 5 * PART);
    r.pipeline.uploadNow([big]);
    await r.clock.advance(1.5 * PART_MS);
    const small = r.queue('syslog', 'small.log', 10_000);
    r.pipeline.uploadNow([small]);
    while (await r.clock.next()) {
      /* all finish */
    }
    await r.pipeline.idle();
    expect(r.store.registered.map((e) => e.filepath)).toEqual([big, small]);
    expect(r.logger.lines.join('\n')).not.toContain('Pausing');
  });

  it('a lower-lane single request is not paused, and it is at most one part long', async () => {
    const r = rig();
    const low = r.queue('ros', 'almost-a-part.bag', PART - 1);
    r.pipeline.uploadNow([low]);
    await r.clock.advance(100);
    const readyAt = r.clock.now();
    const crash = r.queue('alerts', 'c.crash', 10_000);
    r.pipeline.uploadNow([crash]);
    while (await r.clock.next()) {
      /* all finish */
    }
    await r.pipeline.idle();
    expect(r.store.registered.map((e) => e.filepath)).toEqual([low, crash]);
    expect((r.link.landedAt.get(r.key(crash)) as number) - readyAt).toBeLessThanOrEqual(PART_MS + 10);
  });
});

/** An admission whose verdicts the test sets, recording what it is told. */
function fakeAdmission() {
  const calls = { started: [] as Array<[string, Lane, number]>, sent: new Map<string, number>() };
  const admission: Admission & {
    refuse: string | undefined;
    pauseWhen: ((sentSoFar: number) => string | undefined) | undefined;
    calls: typeof calls;
  } = {
    refuse: undefined,
    pauseWhen: undefined,
    calls,
    mayStart(entry: QueueEntry, lane: Lane, size: number): { ok: true } | { ok: false; reason: string } {
      calls.started.push([entry.filepath, lane, size]);
      const reason = this.refuse;
      return reason === undefined ? { ok: true } : { ok: false, reason };
    },
    mayContinue(entry: QueueEntry) {
      return this.pauseWhen?.(calls.sent.get(entry.filepath) ?? 0);
    },
    sent(entry: QueueEntry, _lane: Lane, bytes: number) {
      calls.sent.set(entry.filepath, (calls.sent.get(entry.filepath) ?? 0) + bytes);
    },
  };
  return admission;
}

describe('Pipeline admission', () => {
  it('leaves a refused entry queued untouched and uploads it when pumped after the verdict changed', async () => {
    const admission = fakeAdmission();
    const r = rig({ admission });
    admission.refuse = 'metered link: lane normal not allowed';
    const path = r.queue('syslog', 'a.log', 10_000);
    r.pipeline.uploadNow([path]);
    while (await r.clock.next()) {
      /* nothing to do */
    }
    await r.pipeline.idle();
    expect(r.link.objects.size).toBe(0);
    expect(r.store.entries.get(path)).toMatchObject({ attempts: 0, nextAttemptAt: 0 });
    expect(r.store.entries.get(path)?.lastError).toBeUndefined();
    expect(admission.calls.started).toEqual([[path, 'normal', 10_000]]);
    expect(r.logger.lines.join('\n')).toContain(`${path} waits: metered link`);

    admission.refuse = undefined;
    r.pipeline.pump(); // the admission's wake()
    while (await r.clock.next()) {
      /* it uploads */
    }
    await r.pipeline.idle();
    expect(r.link.objects.has(r.key(path))).toBe(true);
    expect(admission.calls.sent.get(path)).toBe(10_000);
  });

  it('pauses between parts when mayContinue gives a reason, tells sent() each part once, and resumes', async () => {
    const admission = fakeAdmission();
    const r = rig({ admission });
    admission.pauseWhen = (sent) => (sent >= 3 * PART ? 'daily budget used up' : undefined);
    const bag = r.queue('ros', 'run.bag', 6 * PART);
    r.pipeline.uploadNow([bag]);
    while (await r.clock.next()) {
      /* three parts, then the pause: not restarted until the next wake (no loop of pauses) */
    }
    await r.pipeline.idle();
    expect(r.link.partsSent.get(r.key(bag))).toEqual([1, 2, 3]);
    expect(r.logger.lines.join('\n')).toContain(
      `Upload of ${bag} paused after its current part (daily budget used up)`,
    );
    expect(r.store.entries.get(bag)).toMatchObject({ attempts: 0 });
    expect(r.store.entries.get(bag)?.multipart?.parts).toHaveLength(3);
    expect(admission.calls.started).toEqual([[bag, 'low', 6 * PART]]);

    admission.pauseWhen = undefined;
    r.pipeline.pump();
    // Asked again with the bytes still to send.
    expect(admission.calls.started.at(-1)).toEqual([bag, 'low', 3 * PART]);
    while (await r.clock.next()) {
      /* the rest */
    }
    await r.pipeline.idle();
    expect(admission.calls.sent.get(bag)).toBe(6 * PART);
    expect(r.link.creates.get(r.key(bag))).toBe(1);
    expect(r.link.partsSent.get(r.key(bag))).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
