import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HeadBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { s3ErrorXml, startHttpResponder, startLocalS3, type LocalS3 } from '@tvm/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkProfile, COMMAND_MAX_ATTEMPTS, s3ClientFor } from '../src/adapters/aws-clients.js';
import { createDestination } from '../src/adapters/destination.js';
import { systemClock } from '../src/clock.js';
import { verifyCommand } from '../src/commands/verify.js';
import type { CommandIo } from '../src/commands/shared.js';
import { AgentError } from '../src/errors.js';
import { spawnAgent } from './e2e-harness.js';
import { configDocument, makeWorkspace, writeConfig, writeCredentials, type Workspace } from './helpers.js';

function captureIo(): CommandIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    stdout: (text) => out.push(text),
    stderr: (text) => err.push(text),
    isTty: false,
    now: Date.now,
  };
}

describe('checkProfile', () => {
  let ws: Workspace;
  beforeAll(async () => {
    ws = await makeWorkspace();
  });

  it('accepts a profile of the credentials file, of the config file, or no profile at all', async () => {
    await writeFile(join(ws.aws, 'config'), '[profile from-config]\nregion = cn-north-1\n');
    for (const profile of ['test', 'from-config', undefined]) {
      const config = await writeConfig(
        ws,
        configDocument(ws, 'http://127.0.0.1:1', 'b', { s3: { profile } }),
      );
      expect(() => checkProfile(config)).not.toThrow();
    }
  });

  it('rejects a named profile neither file defines, naming s3.profile and both files', async () => {
    const config = await writeConfig(
      ws,
      configDocument(ws, 'http://127.0.0.1:1', 'b', { s3: { profile: 'fleet' } }),
    );
    const error = (() => {
      try {
        checkProfile(config);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(AgentError);
    expect(error).toMatchObject({ code: 'invalid-config' });
    const message = (error as Error).message;
    expect(message).toContain('s3.profile');
    expect(message).toContain('"fleet"');
    expect(message).toContain(join(ws.aws, 'credentials'));
    expect(message).toContain(join(ws.aws, 'config'));
    // The daemon's own builder refuses it too, instead of falling back to other credentials.
    expect(() => createDestination(config, systemClock)).toThrow(message);
  });
});

describe('a missing s3.profile', () => {
  let s3: LocalS3;
  let ws: Workspace;
  beforeAll(async () => {
    s3 = await startLocalS3({ buckets: ['t01logs'] });
    ws = await makeWorkspace();
    // Credentials the default chain would find: the old daemon silently uploaded with these.
    await writeFile(
      join(ws.aws, 'credentials'),
      '[default]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n',
    );
    await writeConfig(ws, configDocument(ws, s3.endpoint, 't01logs', { s3: { profile: 'fleet' } }));
  });
  afterAll(() => s3.close());

  it('is a configuration error of verify (exit 1, naming s3.profile), not a failed check', async () => {
    const io = captureIo();
    const code = await verifyCommand(['--config', ws.configFile], io);
    expect(code).toBe(1);
    expect(io.err.join('')).toMatch(/s3\.profile: profile "fleet" is defined in neither .*credentials/);
    expect(io.out.join('')).not.toContain('[PASS]');
  });

  it('stops the daemon at start-up with an error naming s3.profile and the files', async () => {
    const agent = spawnAgent(['run', '--config', ws.configFile]);
    expect(await agent.exited).toBe(1);
    const text = agent.text().join('\n');
    expect(text).toContain('s3.profile: profile "fleet" is defined in neither');
    expect(text).toContain(join(ws.aws, 'credentials'));
    expect(text).not.toContain('tvm-upload started');
  });
});

describe('createDestination', () => {
  let s3: LocalS3;
  let ws: Workspace;
  beforeAll(async () => {
    s3 = await startLocalS3({ buckets: ['t01logs'] });
    ws = await makeWorkspace('AKIAWRONGWRONGWRONG1');
  });
  afterAll(() => s3.close());

  it('reads the credentials file again when rebuilt', async () => {
    const config = await writeConfig(ws, configDocument(ws, s3.endpoint, 't01logs'));
    const head = new HeadBucketCommand({ Bucket: 't01logs' });
    const before = createDestination(config, systemClock);
    try {
      await expect(before.client.send(head)).rejects.toMatchObject({ $metadata: { httpStatusCode: 403 } });
    } finally {
      before.close();
    }
    await writeCredentials(ws, 'S3RVER');
    const after = createDestination(config, systemClock);
    try {
      await expect(after.client.send(head)).resolves.toBeDefined();
    } finally {
      after.close();
    }
  });

  it('makes exactly one request for a 503: the pipeline schedule is the only backoff', async () => {
    const responder = await startHttpResponder(() => ({
      status: 503,
      body: s3ErrorXml('ServiceUnavailable', 'Please reduce your request rate.'),
    }));
    try {
      const config = await writeConfig(ws, configDocument(ws, responder.endpoint, 't01logs'));
      const destination = createDestination(config, systemClock);
      try {
        const put = new PutObjectCommand({ Bucket: 't01logs', Key: 'k', Body: Buffer.from('x') });
        await expect(destination.client.send(put)).rejects.toMatchObject({
          $metadata: { httpStatusCode: 503, attempts: 1 },
        });
        expect(responder.requests).toHaveLength(1);
      } finally {
        destination.close();
      }

      // Ops commands' clients make one attempt too: p-retry (commands/retry.ts) is their one retry policy.
      const ops = s3ClientFor(config, { maxAttempts: COMMAND_MAX_ATTEMPTS });
      try {
        await expect(ops.send(new HeadBucketCommand({ Bucket: 't01logs' }))).rejects.toBeDefined();
        expect(responder.requests).toHaveLength(2);
      } finally {
        ops.destroy();
      }
    } finally {
      await responder.close();
    }
  });
});
