import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  generateTestCertificates,
  startLocalS3,
  startTlsFront,
  type LocalS3,
  type TlsFront,
} from '@tvm/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandIo } from '../src/commands/shared.js';
import { verifyCommand } from '../src/commands/verify.js';
import { spawnAgent } from './e2e-harness.js';
import {
  configDocument,
  makeWorkspace,
  objects,
  stateList,
  until,
  writeConfig,
  writeLog,
  type Workspace,
} from './helpers.js';

// A private CA, as an S3-compatible store or a TLS-inspecting proxy on a fleet network would use: the endpoint is
// https://127.0.0.1:<port>, its certificate signed by a CA made for this test.
let s3: LocalS3;
let front: TlsFront;
let caFile: string;
beforeAll(async () => {
  s3 = await startLocalS3({ buckets: ['t01logs'] });
  const certificates = generateTestCertificates();
  front = await startTlsFront(s3.endpoint, certificates);
  const ws = await makeWorkspace();
  caFile = join(ws.root, 'fleet-ca.pem');
  await writeFile(caFile, certificates.caPem);
}, 30_000);
afterAll(async () => {
  await front?.close();
  await s3?.close();
});

async function workspaceWithLog(
  name: string,
  extra: Record<string, unknown> = {},
): Promise<{ ws: Workspace; file: string }> {
  const ws = await makeWorkspace();
  const file = join(ws.logs, 'ros', 'run', name);
  await writeLog(file, 'over TLS\n');
  await writeConfig(ws, configDocument(ws, front.endpoint, 't01logs', extra));
  return { ws, file };
}

function captureIo(): CommandIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: (t) => out.push(t), stderr: (t) => err.push(t), isTty: false, now: Date.now };
}

describe('tvm-upload run against an endpoint signed by a private CA', () => {
  it('pauses with the TLS message without the CA bundle, and retries nothing', async () => {
    const { ws, file } = await workspaceWithLog('untrusted.log');
    const agent = spawnAgent(['run', '--config', ws.configFile], { AWS_CA_BUNDLE: '' });
    try {
      const line = await agent.waitFor('Uploads paused:', 45_000);
      expect(line).toContain('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
      expect(line).toContain('AWS_CA_BUNDLE');
      expect(agent.text().filter((l) => l.startsWith('Retry '))).toEqual([]);
      // The state files follow the log line within the commit delay.
      await until(
        async () => (await stateList(ws.state, 'queue.json')).some((f) => f.filepath === file),
        5_000,
        'the file kept in the queue',
      );
      expect(await stateList(ws.state, 'failed.json')).toEqual([]);
    } finally {
      agent.child.kill('SIGTERM');
      await agent.exited;
    }
  }, 60_000);

  it.each([
    ['AWS_CA_BUNDLE', 'by-env.log'],
    ['s3.ca_bundle', 'by-config.log'],
  ])(
    'uploads with the CA given by %s',
    async (source, name) => {
      const viaEnv = source === 'AWS_CA_BUNDLE';
      const { ws } = await workspaceWithLog(name, viaEnv ? {} : { s3: { ca_bundle: caFile } });
      const agent = spawnAgent(['run', '--config', ws.configFile], { AWS_CA_BUNDLE: viaEnv ? caFile : '' });
      try {
        await until(
          async () =>
            [...(await objects(s3.client(), 't01logs')).keys()].some((k) => k.endsWith(`/ros/run/${name}`)),
          45_000,
          `${name} in S3`,
        );
        expect(agent.text().some((l) => l.startsWith('Uploads paused'))).toBe(false);
      } finally {
        agent.child.kill('SIGTERM');
        await agent.exited;
      }
    },
    60_000,
  );
});

describe('tvm-upload verify against an endpoint signed by a private CA', () => {
  it('fails the bucket check as a TLS configuration error without the CA, and passes with s3.ca_bundle', async () => {
    const saved = process.env['AWS_CA_BUNDLE'];
    delete process.env['AWS_CA_BUNDLE'];
    try {
      const { ws } = await workspaceWithLog('verify.log');
      const io = captureIo();
      expect(await verifyCommand(['--config', ws.configFile], io, { initialDelayMs: 1, maxDelayMs: 2 })).toBe(
        2,
      );
      expect(io.out.join('')).toMatch(
        /\[FAIL\] bucket: .*UNABLE_TO_VERIFY_LEAF_SIGNATURE.*\(tls-certificate, permanent\)/,
      );
      expect(io.err.join('')).toBe(''); // no retry of a certificate error

      await writeConfig(ws, configDocument(ws, front.endpoint, 't01logs', { s3: { ca_bundle: caFile } }));
      const trusted = captureIo();
      expect(await verifyCommand(['--config', ws.configFile], trusted)).toBe(0);
      expect(trusted.out.join('')).toContain('[PASS] bucket: t01logs is reachable');
    } finally {
      if (saved !== undefined) process.env['AWS_CA_BUNDLE'] = saved;
    }
  });
});
