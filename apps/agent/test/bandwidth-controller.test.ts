import { createFakeClock } from '@tvm/test-utils';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BandwidthController } from '../src/bandwidth/controller.js';
import { parseBandwidthLimit, type BandwidthLimit } from '../src/bandwidth/timetable.js';
import { registerBandwidthRoutes } from '../src/control/bandwidth.js';
import { ControlServer, controlRequest } from '../src/control/index.js';
import type { Agent } from '../src/agent.js';
import { captureLogger } from './helpers.js';

const KiB = 1024;
const MiB = 1024 * 1024;
const ZONE = 'Asia/Shanghai'; // UTC+8, no DST

function parsed(value: string | number): BandwidthLimit {
  const result = parseBandwidthLimit(value);
  if ('error' in result) throw new Error(result.error);
  return result;
}

const controllers: BandwidthController[] = [];
afterEach(() => {
  for (const controller of controllers.splice(0)) controller.close();
});

function start(limit: string | number, iso: string) {
  const clock = createFakeClock(Date.parse(iso));
  const logger = captureLogger();
  const controller = new BandwidthController(clock, logger, parsed(limit), ZONE);
  controllers.push(controller);
  return { clock, logger, controller };
}

describe('BandwidthController', () => {
  it('applies each timetable boundary on its clock, across midnight, without being asked', async () => {
    const { clock, logger, controller } = start(
      '08:00,512KiB/s 18:00,4MiB/s 23:00,off',
      '2026-03-02T17:59:00+08:00',
    );
    expect(controller.bucket.rate).toBe(512 * KiB);
    expect(controller.state()).toMatchObject({
      source: 'timetable',
      entry: '08:00,512 KiB/s',
      until: Date.parse('2026-03-02T18:00:00+08:00'),
    });
    await clock.advance(60_000);
    expect(controller.bucket.rate).toBe(4 * MiB);
    await clock.advance(5 * 3_600_000);
    expect(controller.bucket.rate).toBe(0); // 23:00 off
    await clock.advance(3_600_000); // past midnight: still the last entry of the day
    expect(controller.state()).toMatchObject({ rate: 'off', entry: '23:00,off' });
    await clock.advance(8 * 3_600_000); // 08:00 the next day
    expect(controller.bucket.rate).toBe(512 * KiB);
    expect(logger.lines.join('\n')).toContain(
      'Bandwidth limit: 4 MiB/s (timetable entry 18:00,4 MiB/s, until 2026-03-02T15:00:00.000Z)',
    );
  });

  it("holds a command's rate until the next boundary, then the timetable again", async () => {
    const { clock, controller } = start('08:00,512KiB/s 18:00,4MiB/s', '2026-03-02T12:00:00+08:00');
    expect(controller.override(256 * KiB)).toMatchObject({
      bytesPerSecond: 256 * KiB,
      source: 'command',
      entry: '08:00,512 KiB/s',
      until: Date.parse('2026-03-02T18:00:00+08:00'),
    });
    expect(controller.bucket.rate).toBe(256 * KiB);
    await clock.advance(5 * 3_600_000 + 59 * 60_000);
    expect(controller.bucket.rate).toBe(256 * KiB);
    await clock.advance(60_000);
    expect(controller.bucket.rate).toBe(4 * MiB);
    expect(controller.state().source).toBe('timetable');
  });

  it("holds a command's rate over a single configured rate until a reload changes the limit", async () => {
    const { clock, controller } = start('2MB/s', '2026-03-02T12:00:00+08:00');
    expect(controller.state()).toEqual({
      bytesPerSecond: 2 * MiB,
      rate: '2 MiB/s',
      source: 'config',
      configured: '2 MiB/s',
      timeZone: ZONE,
    });
    controller.override(0);
    await clock.advance(7 * 24 * 3_600_000);
    expect(controller.state()).toMatchObject({ bytesPerSecond: 0, source: 'command' });
    controller.configure(parsed('2MB/s'), ZONE); // a reload of other keys keeps it
    expect(controller.bucket.rate).toBe(0);
    controller.configure(parsed('1MB/s'), ZONE); // a new limit wins
    expect(controller.state()).toMatchObject({ bytesPerSecond: MiB, source: 'config' });
    expect(controller.bucket.rate).toBe(MiB);
  });

  it('a reload to a timetable takes effect at once and its boundaries run from then', async () => {
    const { clock, controller } = start(0, '2026-03-02T12:00:00+08:00');
    controller.configure(parsed('12:30,1MB/s 13:00,off'), ZONE);
    expect(controller.bucket.rate).toBe(0); // 13:00,off holds from yesterday
    await clock.advance(30 * 60_000);
    expect(controller.bucket.rate).toBe(MiB);
  });

  it('looks at the timetable at least every minute: a wall clock set forward (NTP after boot) is followed', async () => {
    // Timers run on monotonic time: a wall clock set forward does not shorten a sleep already started.
    const fake = createFakeClock(Date.parse('2026-03-02T12:00:00+08:00'));
    let offset = 0;
    const clock = { now: () => fake.now() + offset, sleep: fake.sleep.bind(fake) };
    const controller = new BandwidthController(
      clock,
      captureLogger(),
      parsed('08:00,512KiB/s 18:00,4MiB/s'),
      ZONE,
    );
    controllers.push(controller);
    offset = 7 * 3_600_000; // 19:00
    await fake.advance(60_000);
    expect(controller.bucket.rate).toBe(4 * MiB);
  });
});

describe('the /v1/bandwidth routes', () => {
  let dir: string;
  let server: ControlServer;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tvm-bw-'));
    server = new ControlServer();
  });
  afterEach(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('show the limit in force, set one, and refuse a bad rate naming it', async () => {
    const { controller } = start('08:00,512KiB/s 18:00,4MiB/s', '2026-03-02T12:00:00+08:00');
    registerBandwidthRoutes(server, { agent: () => ({ bandwidth: controller }) as unknown as Agent });
    const socket = join(dir, 'control.sock');
    await server.listen(socket);
    expect(await controlRequest(socket, 'GET', '/v1/bandwidth')).toMatchObject({
      status: 200,
      body: { rate: '512 KiB/s', source: 'timetable', entry: '08:00,512 KiB/s' },
    });
    expect(await controlRequest(socket, 'PUT', '/v1/bandwidth', { rate: '256KiB/s' })).toMatchObject({
      status: 200,
      body: { bytesPerSecond: 256 * KiB, source: 'command', until: Date.parse('2026-03-02T18:00:00+08:00') },
    });
    expect(await controlRequest(socket, 'PUT', '/v1/bandwidth', { rate: 'fast' })).toEqual({
      status: 400,
      body: {
        error: '"rate" must be a rate such as "2MB/s" or "256KiB/s", or off (or 0) for unlimited, got "fast"',
      },
    });
    expect(controller.bucket.rate).toBe(256 * KiB);
  });

  it('answer 503 while the agent restarts', async () => {
    registerBandwidthRoutes(server, { agent: () => undefined });
    const socket = join(dir, 'control.sock');
    await server.listen(socket);
    expect((await controlRequest(socket, 'GET', '/v1/bandwidth')).status).toBe(503);
  });
});
