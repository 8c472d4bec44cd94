import { createFakeClock, settle, type FakeClock } from '@tvm/test-utils';
import { describe, expect, it } from 'vitest';
import { LogDirectories } from '../src/log-directories.js';
import { Pipeline, type PipelineOptions } from '../src/pipeline/index.js';
import { MemoryBucket, MemoryStore, MemoryVolume, pipelineDefaults } from './fakes.js';
import { captureLogger } from './helpers.js';

/** The pipeline on in-memory ports and a fake clock: what used to need s3rver runs in milliseconds. */
function rig(patch: Partial<PipelineOptions> = {}) {
  const clock: FakeClock = createFakeClock(1_800_000_000_000);
  const store = new MemoryStore(() => clock.now());
  const volume = new MemoryVolume();
  const bucket = new MemoryBucket(volume);
  const logger = captureLogger();
  const counts: Record<string, number> = {};
  const count = (name: string) => () => {
    counts[name] = (counts[name] ?? 0) + 1;
  };
  const directories = new LogDirectories([{ path: '/logs/terminal', source: 'terminal' }]);
  let drained = 0;
  const pipeline = new Pipeline({
    ...pipelineDefaults(directories),
    store,
    objects: () => bucket,
    files: volume,
    clock,
    logger,
    metrics: {
      fileUploaded: count('uploaded'),
      uploadFailed: count('failed'),
      retryScheduled: count('retry'),
      permanentFailure: count('permanent'),
      queueDepth: () => undefined,
    },
    onDrained: () => {
      drained++;
      return Promise.resolve();
    },
    ...patch,
  });
  const queue = (name: string, body = `${name}\n`) => {
    const path = `/logs/terminal/${name}`;
    volume.write(path, body);
    store.add({ filepath: path, source: 'terminal' });
    return path;
  };
  return { clock, store, volume, bucket, logger, counts, pipeline, queue, drained: () => drained };
}

const awsError = (name: string, status: number, message: string) =>
  Object.assign(new Error(message), { name, Code: name, $metadata: { httpStatusCode: status } });

describe('Pipeline on in-memory ports', () => {
  it('uploads the due queue in a run, registers each version, and drains', async () => {
    const r = rig();
    const paths = ['a.log', 'b.log', 'c.log'].map((n) => r.queue(n));
    r.pipeline.startRun('test');
    await r.pipeline.idle();
    expect(r.store.entries.size).toBe(0);
    expect([...r.bucket.objects.keys()].sort()).toEqual([
      'v1/terminal/a.log',
      'v1/terminal/b.log',
      'v1/terminal/c.log',
    ]);
    expect(r.store.registered.map((e) => e.filepath).sort()).toEqual(paths);
    expect(r.store.registered[0]).toMatchObject({ dev: 1, size: 6 });
    expect(r.drained()).toBe(1);
  });

  it('keeps every file queued with its retry state on a destination error, then uploads them all (defect 3)', async () => {
    const r = rig();
    const paths = ['1.log', '2.log', '3.log', '4.log', '5.log'].map((n) => r.queue(n));
    await r.store.queue.update(paths[4]!, { attempts: 2 });
    const denied = awsError(
      'InvalidAccessKeyId',
      403,
      'The AWS Access Key Id you provided does not exist in our records.',
    );
    r.bucket.fault = () => denied;
    r.pipeline.startRun('test');
    await r.pipeline.idle();
    expect(r.pipeline.paused?.kind).toBe('destination');
    expect(r.store.failedEntries.size).toBe(0);
    expect(r.store.entries.size).toBe(5);
    expect(r.store.queue.get(paths[4]!)?.attempts).toBe(2);
    expect(r.store.queue.list().every((e) => e.lastError === undefined)).toBe(true);
    // The runbook's two lines once (for the file that hit it), then the pause line.
    expect(r.logger.lines.filter((l) => l.startsWith('PERMANENT FAILURE'))).toEqual([
      'PERMANENT FAILURE: InvalidAccessKeyId: The AWS Access Key Id you provided does not exist in our records.',
    ]);
    expect(r.logger.lines.filter((l) => l.startsWith('Permanent upload error for '))).toHaveLength(1);
    expect(r.logger.lines.some((l) => l.startsWith('Uploads paused: InvalidAccessKeyId'))).toBe(true);
    // Re-checks fail while the key is wrong; then the operator fixes it.
    await r.clock.advance(600_000);
    expect(r.pipeline.paused?.kind).toBe('destination');
    r.bucket.fault = undefined;
    await r.clock.advance(300_000);
    await settle();
    await r.pipeline.idle();
    expect(r.store.entries.size).toBe(0);
    expect(r.bucket.objects.size).toBe(5);
  });

  it('retries on the runbook schedule, 1 s to 512 s, then gives up', async () => {
    const r = rig();
    const path = r.queue('test.log');
    r.bucket.fault = (what) =>
      what === 'upload' ? awsError('SlowDown', 503, 'Please reduce your request rate.') : undefined;
    r.pipeline.startRun('test');
    for (let retry = 1; retry <= 10; retry++) {
      await r.pipeline.idle();
      const delay = 2 ** (retry - 1);
      expect(r.logger.lines.filter((l) => l.startsWith('Retry ')).at(-1)).toBe(
        `Retry ${retry}/10 for test.log (next attempt in ${delay}s)`,
      );
      expect(r.store.queue.get(path)).toMatchObject({
        attempts: retry,
        nextAttemptAt: r.clock.now() + delay * 1000,
      });
      await r.clock.advance(delay * 1000);
    }
    await r.pipeline.idle();
    expect(r.store.failedEntries.get(path)).toMatchObject({ category: 'retries-exhausted', attempts: 11 });
    expect(
      r.logger.lines.some((l) => l.startsWith(`PERMANENT FAILURE: retries exhausted (10/10) for ${path}`)),
    ).toBe(true);
    expect(r.counts['retry']).toBe(10);
  });

  it('rides out an outage without spending retries, and resumes when a probe passes', async () => {
    const r = rig();
    for (const n of ['a.log', 'b.log']) r.queue(n);
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    r.bucket.fault = () => refused;
    r.pipeline.startRun('test');
    await r.pipeline.idle();
    expect(r.pipeline.paused).toMatchObject({ kind: 'outage', confirmed: true });
    for (let i = 0; i < 72; i++) await r.clock.advance(300_000); // six hours
    expect(r.store.queue.list().every((e) => e.attempts === 0)).toBe(true);
    r.bucket.fault = undefined;
    await r.clock.advance(300_000);
    await settle();
    await r.pipeline.idle();
    expect(r.store.entries.size).toBe(0);
    expect(r.logger.lines.filter((l) => l.startsWith('Retry '))).toEqual([]);
  });

  it('refuses hand-edited entries outside the log directories, and symlinks, with the reason (defect 6)', async () => {
    const r = rig();
    r.volume.write('/etc/hostname', 'secret');
    r.store.add({ filepath: '/logs/terminal/../../etc/hostname', source: 'terminal' });
    r.store.add({ filepath: '/etc/hostname' });
    r.volume.symlink('/logs/terminal/link.log');
    r.store.add({ filepath: '/logs/terminal/link.log', source: 'terminal' });
    r.pipeline.startRun('test');
    await r.pipeline.idle();
    expect(r.bucket.objects.size).toBe(0);
    expect([...r.store.failedEntries.keys()].sort()).toEqual([
      '/etc/hostname',
      '/logs/terminal/../../etc/hostname',
      '/logs/terminal/link.log',
    ]);
    expect(r.logger.lines).toContain(
      'Rejected queue entry "/logs/terminal/../../etc/hostname": not a normalised path (it would be /etc/hostname); "." and ".." components are not followed',
    );
    expect(r.logger.lines).toContain(
      'Rejected queue entry "/etc/hostname": not under any configured log directory',
    );
  });

  it('runs the after-upload housekeeping when files sent at once are done, without a run (defect 12)', async () => {
    const r = rig();
    const path = r.queue('now.log');
    r.pipeline.uploadNow([path]);
    await r.pipeline.idle();
    await settle();
    expect(r.store.entries.size).toBe(0);
    expect(r.drained()).toBe(1);
  });
});
