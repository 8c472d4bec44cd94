import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { createFakeClock, startLocalS3, type LocalS3 } from '@tvm/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, type Agent } from '../src/agent.js';
import { decodeFileName, encodeFileName } from '../src/file-names.js';
import { dateIn, decodeKeyPath } from '../src/object-key.js';
import {
  captureLogger,
  configDocument,
  makeWorkspace,
  objects,
  until,
  writeConfig,
  writeLog,
} from './helpers.js';

let s3: LocalS3;
beforeAll(async () => {
  s3 = await startLocalS3({ buckets: ['t01logs'] });
});
afterAll(async () => s3?.close());

// 测试.log in GBK and café.log in Latin-1: neither name is valid UTF-8.
const GBK = Buffer.from([0xb2, 0xe2, 0xca, 0xd4, ...Buffer.from('.log')]);
const LATIN1 = Buffer.from([0x63, 0x61, 0x66, 0xe9, ...Buffer.from('.log')]);
const HOUR = 3_600_000;

async function writeNamed(path: string, body: string, ageMs = HOUR): Promise<number> {
  await writeFile(encodeFileName(path), body);
  const when = new Date(Date.now() - ageMs);
  await utimes(encodeFileName(path), when, when);
  return when.getTime();
}

describe('createAgent with file names that are not valid UTF-8', () => {
  it('uploads them under the percent-bytes key, registers them, deletes them after upload and logs them', async () => {
    const ws = await makeWorkspace();
    const dir = join(ws.logs, 'terminal');
    const gbk = `${dir}/${decodeFileName(GBK)}`;
    const latin1 = `${dir}/${decodeFileName(LATIN1)}`;
    // The name a string readdir reports for the Latin-1 file (U+FFFD): a real, different file.
    const lookalike = join(dir, LATIN1.toString('utf8'));
    await writeLog(lookalike, 'the look-alike');
    const mtime = await writeNamed(gbk, 'GBK-named bytes');
    await writeNamed(latin1, 'Latin-1-named bytes');
    const config = await writeConfig(
      ws,
      configDocument(ws, s3.endpoint, 't01logs', {
        vehicle_id: 'names-1',
        deletion: { after_upload: { enabled: true, keep_days: 0 } },
      }),
    );
    const logger = captureLogger();
    let agent: Agent | undefined;
    try {
      agent = await createAgent({ config, logger, clock: createFakeClock(Date.now()), commitDelayMs: 0 });
      const { store } = agent;
      await until(() => store.registry.size === 3, 10_000, 'three uploads at start');
      // One more, arriving while the agent watches: renamed into place, as loggers rotate.
      const late = `${dir}/${decodeFileName(Buffer.from([0xd0, 0xc2, ...Buffer.from('.log')]))}`; // 新 in GBK
      const staged = `${ws.root}/${decodeFileName(Buffer.from([0xd0, 0xc2]))}`;
      await writeNamed(staged, 'arrived later');
      await rename(encodeFileName(staged), encodeFileName(late));
      await until(() => store.registry.size === 4, 10_000, 'the watched file uploaded');
      await until(
        () => [gbk, latin1, late, lookalike].every((path) => !existsSync(encodeFileName(path))),
        10_000,
        'the after-upload deletions',
      );

      const prefix = `names-1/${dateIn(mtime, 'UTC')}/terminal/`;
      const stored = await objects(s3.client(), 't01logs');
      expect(new Map([...stored].map(([key, body]) => [key, body.toString()]))).toEqual(
        new Map([
          [`${prefix}%B2%E2%CA%D4.log`, 'GBK-named bytes'],
          [`${prefix}caf%E9.log`, 'Latin-1-named bytes'],
          [`${prefix}caf\ufffd.log`, 'the look-alike'],
          [`${prefix}%D0%C2.log`, 'arrived later'],
        ]),
      );
      const head = await s3
        .client()
        .send(new HeadObjectCommand({ Bucket: 't01logs', Key: `${prefix}caf%E9.log` }));
      expect(head.Metadata).toMatchObject({
        'tvm-name-encoding': 'percent-bytes',
        'tvm-name-bytes': LATIN1.toString('base64'),
      });
      expect(decodeKeyPath('caf%E9.log', head.Metadata?.['tvm-name-encoding']).equals(LATIN1)).toBe(true);
      const plain = await s3
        .client()
        .send(new HeadObjectCommand({ Bucket: 't01logs', Key: `${prefix}caf\ufffd.log` }));
      expect(plain.Metadata?.['tvm-name-encoding']).toBeUndefined();

      // The registry names each file by its own bytes, as JSON escapes that jq and JSON.parse read back.
      expect(
        store.registry
          .list()
          .map((entry) => entry.filepath)
          .sort(),
      ).toEqual([gbk, latin1, late, lookalike].sort());
      await agent.stop();
      agent = undefined;
      const registry = await readFile(join(ws.state, 'processed_files.json'), 'utf8');
      expect(registry).toContain('caf\\udce9.log');
      expect(JSON.stringify(JSON.parse(registry))).toContain('caf\\udce9.log');

      const lines = logger.lines.join('\n');
      expect(lines).toContain(`Uploaded ${dir}/caf\\xe9.log to s3://t01logs/${prefix}caf%E9.log`);
      expect(lines).toContain(
        `Uploaded ${dir}/\\xb2\\xe2\\xca\\xd4.log to s3://t01logs/${prefix}%B2%E2%CA%D4.log`,
      );
      expect(lines).toMatch(
        new RegExp(`Deleted ${dir.replace(/[/.]/g, '\\$&')}/caf\\\\xe9\\.log \\(19 bytes\\)`),
      );
      expect(lines).not.toMatch(/[\ud800-\udfff]/u);
    } finally {
      await agent?.stop();
    }
  });

  it('uploads and deletes files of a log directory configured through a symlink to a directory so named', async () => {
    const ws = await makeWorkspace();
    // logs/terminal -> <root>/日志 in GBK: the resolved directory itself is not valid UTF-8.
    const real = `${ws.root}/${decodeFileName(Buffer.from([0xc8, 0xd5, 0xd6, 0xbe]))}`;
    await mkdir(encodeFileName(real));
    await rm(join(ws.logs, 'terminal'), { recursive: true, force: true });
    await symlink(encodeFileName(real), join(ws.logs, 'terminal'));
    const file = `${real}/${decodeFileName(LATIN1)}`;
    const mtime = await writeNamed(file, 'behind a symlink');
    const config = await writeConfig(
      ws,
      configDocument(ws, s3.endpoint, 't01logs', {
        vehicle_id: 'names-2',
        deletion: { after_upload: { enabled: true, keep_days: 0 } },
      }),
    );
    const logger = captureLogger();
    let agent: Agent | undefined;
    try {
      agent = await createAgent({
        config,
        logger,
        clock: createFakeClock(Date.now()),
        commitDelayMs: 0,
        watch: false,
      });
      const { store } = agent;
      await until(() => store.registry.size === 1, 10_000, 'the upload').catch((error: unknown) => {
        throw new Error(`${(error as Error).message}:\n${logger.lines.join('\n')}`);
      });
      await until(() => !existsSync(encodeFileName(file)), 10_000, 'the after-upload deletion');
      expect(store.registry.list()[0]?.filepath).toBe(file);
      const stored = await objects(s3.client(), 't01logs');
      expect(stored.get(`names-2/${dateIn(mtime, 'UTC')}/terminal/caf%E9.log`)?.toString()).toBe(
        'behind a symlink',
      );
      expect(logger.lines.join('\n')).not.toContain('Rejected queue entry');
    } finally {
      await agent?.stop();
    }
  });
});
