import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { startFaultProxy, type FaultProxy } from '@tvm/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useLocalS3 } from './helpers.js';
import { buildCli, createWorkspace, runCli, startAgent, type RunningAgent } from './ops-harness.js';

// The real process against s3rver, through a counting proxy: bytes per second on the wire, before and after.
const s3 = useLocalS3(['test-bucket']);
const KiB = 1024;
const MiB = 1024 * KiB;
let cli: string;
let cleanupCli: () => Promise<void>;
let proxy: FaultProxy;
beforeAll(async () => {
  ({ cli, cleanup: cleanupCli } = await buildCli());
  proxy = await startFaultProxy({ targetPort: s3.port });
}, 120_000);
afterAll(async () => {
  await proxy.close();
  await cleanupCli();
});

/** Bytes per second sent to S3 over the next `ms` (after `settleMs` for a change to take hold). */
async function rateOver(ms: number, settleMs = 500): Promise<number> {
  await delay(settleMs);
  const before = proxy.bytesUpstream;
  const started = performance.now();
  await delay(ms);
  return ((proxy.bytesUpstream - before) * 1000) / (performance.now() - started);
}

/** Waits until bytes flow to S3 (the file was found, became stable, and its upload started). */
async function untilSending(agent: RunningAgent): Promise<void> {
  const start = proxy.bytesUpstream;
  const deadline = Date.now() + 30_000;
  while (proxy.bytesUpstream - start < 256 * KiB) {
    if (Date.now() > deadline) throw new Error(`no upload started:\n${agent.output()}`);
    await delay(50);
  }
}

const workspace = (bandwidth: string) =>
  createWorkspace({
    endpoint: proxy.endpoint,
    upload: `file_stable_seconds: 1\noperational_hours: { enabled: false }\ntimezone: UTC\nbandwidth_limit: "${bandwidth}"`,
    extra: 'monitoring: { cloudwatch_enabled: false }',
  });

describe('the bandwidth limit of a running agent (real process, s3rver)', () => {
  it(
    '`tvm-upload bandwidth` and a reload change the rate of an upload in flight at once; `off` lifts it',
    { timeout: 120_000 },
    async () => {
      const ws = await workspace('1MB/s');
      const agent = await startAgent(cli, ws.config, join(ws.root, 'agent.log'));
      try {
        await agent.waitFor(/tvm-upload started/);
        await writeFile(join(ws.logs, 'ros', 'big.bag'), randomBytes(24 * MiB)); // three 8 MiB parts
        await untilSending(agent);
        const atConfig = await rateOver(2_000);
        expect(atConfig).toBeGreaterThan(0.8 * MiB);
        expect(atConfig).toBeLessThan(1.25 * MiB);

        const slowed = await runCli(cli, ['bandwidth', '256KiB/s', '--config', ws.config]);
        expect(slowed).toMatchObject({
          code: 0,
          stdout: 'Bandwidth limit set: 256 KiB/s (set by tvm-upload bandwidth, until restart)\n',
        });
        const atCommand = await rateOver(3_000);
        expect(atCommand).toBeGreaterThan(0.75 * 256 * KiB);
        expect(atCommand).toBeLessThan(1.3 * 256 * KiB);
        const shown = await runCli(cli, ['bandwidth', '--config', ws.config, '--json']);
        expect(JSON.parse(shown.stdout)).toMatchObject({
          bytesPerSecond: 256 * KiB,
          source: 'command',
          configured: '1 MiB/s',
        });
        const status = await runCli(cli, ['status', '--config', ws.config]);
        expect(status.stdout).toContain(
          '  bandwidth:     256 KiB/s (set by tvm-upload bandwidth, until restart)',
        );

        // A reload of bandwidth_limit (SIGHUP) goes live too, and wins over the command.
        const config = await readFile(ws.config, 'utf8');
        await writeFile(ws.config, config.replace('bandwidth_limit: "1MB/s"', 'bandwidth_limit: "512KiB/s"'));
        expect((await runCli(cli, ['reload', '--config', ws.config])).code).toBe(0);
        await agent.waitFor(/Configuration applied live: upload.bandwidth_limit/);
        const atReload = await rateOver(3_000);
        expect(atReload).toBeGreaterThan(0.75 * 512 * KiB);
        expect(atReload).toBeLessThan(1.3 * 512 * KiB);
        expect(agent.output()).not.toMatch(/Uploaded /);

        const lifted = await runCli(cli, ['bandwidth', 'off', '--config', ws.config]);
        expect(lifted.stdout).toBe('Bandwidth limit set: off (set by tvm-upload bandwidth, until restart)\n');
        const liftedAt = Date.now();
        await agent.waitFor(/Uploaded .*big\.bag/, 15_000);
        // Well over 15 MiB were left at 512 KiB/s (30 s): unlimited, they go in seconds.
        expect(Date.now() - liftedAt).toBeLessThan(10_000);
        expect(agent.output()).toContain(
          'Bandwidth limit: 256 KiB/s (set by tvm-upload bandwidth, until restart)',
        );
      } finally {
        expect(await agent.stop()).toBe(0);
        await ws.cleanup();
      }
    },
  );

  it(
    'applies a timetable boundary to an upload in flight without a restart',
    { timeout: 150_000 },
    async () => {
      // Entries around the next whole minute that is at least 25 s away, in UTC.
      let boundary = Math.ceil(Date.now() / 60_000) * 60_000;
      if (boundary - Date.now() < 25_000) boundary += 60_000;
      const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
      const ws = await workspace(`${hhmm(boundary - 120_000)},256KiB/s ${hhmm(boundary)},off`);
      const agent = await startAgent(cli, ws.config, join(ws.root, 'agent.log'));
      try {
        await agent.waitFor(/tvm-upload started/);
        const shown = await runCli(cli, ['bandwidth', '--config', ws.config]);
        expect(shown.stdout).toBe(
          `Bandwidth limit: 256 KiB/s (timetable entry ${hhmm(boundary - 120_000)},256 KiB/s, until ${new Date(boundary).toISOString()})\n`,
        );
        await writeFile(join(ws.logs, 'ros', 'big.bag'), randomBytes(40 * MiB));
        await untilSending(agent);
        const before = await rateOver(Math.min(5_000, boundary - Date.now() - 2_000));
        expect(before).toBeGreaterThan(0.75 * 256 * KiB);
        expect(before).toBeLessThan(1.3 * 256 * KiB);
        await agent.waitFor(/Bandwidth limit: off \(timetable entry/, boundary - Date.now() + 10_000);
        const switchedAt = Date.now();
        await agent.waitFor(/Uploaded .*big\.bag/, 20_000);
        expect(Date.now() - switchedAt).toBeLessThan(10_000); // > 30 MiB left: 2 min at 256 KiB/s
        expect(agent.output()).not.toMatch(/tvm-upload started[\s\S]*tvm-upload started/); // no restart
      } finally {
        expect(await agent.stop()).toBe(0);
        await ws.cleanup();
      }
    },
  );

  it('says clearly that no agent runs', async () => {
    const ws = await workspace('1MB/s');
    try {
      const none = await runCli(cli, ['bandwidth', '1MB/s', '--config', ws.config]);
      expect(none.code).toBe(1);
      expect(none.stderr).toContain('tvm-upload bandwidth: The agent is not running');
      const bad = await runCli(cli, ['bandwidth', 'fast', '--config', ws.config]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('Not a rate: "fast"');
      const help = await runCli(cli, ['bandwidth', '--help']);
      expect(help.stdout).toContain('Usage: tvm-upload bandwidth [<rate>|off]');
    } finally {
      await ws.cleanup();
    }
  });
});
