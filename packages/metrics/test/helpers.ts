import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFakeClock, startFakeCloudWatch, type FakeClock, type FakeCloudWatch } from '@tvm/test-utils';
import { createMetrics, type Logger, type Metrics, type MetricsOptions } from '../src/index.js';

/** 5 minutes, the default publish interval. */
export const INTERVAL = 300_000;
/** The fake clock's start: 2025-10-20T00:00:00Z, a bucket boundary. */
export const T0 = Date.UTC(2025, 9, 20);

/** A logger that keeps its lines, to assert on what an operator would read. */
export function recordingLogger(): Logger & { lines: Array<{ level: string; message: string }> } {
  const lines: Array<{ level: string; message: string }> = [];
  const at = (level: string) => (message: string) => {
    lines.push({ level, message });
  };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** One test's world: a fake clock, a fake CloudWatch, a temp directory, and recorders built on them. */
export interface World {
  clock: FakeClock;
  cloudwatch: FakeCloudWatch;
  dir: string;
  bufferFile: string;
  logger: ReturnType<typeof recordingLogger>;
  create(overrides?: Partial<MetricsOptions>): Metrics;
  /** Advances one interval and waits for the publish it triggers. */
  tick(metrics: Metrics, intervals?: number): Promise<void>;
  close(): Promise<void>;
}

export async function createWorld(): Promise<World> {
  const clock = createFakeClock(T0);
  const cloudwatch = await startFakeCloudWatch();
  const dir = await mkdtemp(join(tmpdir(), 'tvm-metrics-'));
  const bufferFile = join(dir, 'state', 'metrics-buffer.json');
  const logger = recordingLogger();
  const created: Metrics[] = [];
  // One attempt per request: the SDK's own retries would only slow the outage tests down.
  const client = cloudwatch.client({ maxAttempts: 1 });
  return {
    clock,
    cloudwatch,
    dir,
    bufferFile,
    logger,
    create(overrides = {}) {
      const metrics = createMetrics({
        client,
        vehicleId: 'vehicle-CN-001',
        clock,
        bufferFile,
        logger,
        ...overrides,
      });
      created.push(metrics);
      return metrics;
    },
    async tick(metrics, intervals = 1) {
      for (let i = 0; i < intervals; i++) {
        await clock.advance(INTERVAL);
        await metrics.idle();
      }
    },
    async close() {
      for (const metrics of created) await metrics.stop();
      await cloudwatch.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
