import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CreateMultipartUploadCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { createUploader } from '@tvm/s3-uploader';
import {
  createFakeClock,
  startLocalS3,
  startMultipartShim,
  type LocalS3,
  type MultipartShim,
} from '@tvm/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { abortAbandonedUploads, DEFAULT_ABANDONED_UPLOAD_AGE_MS } from '../src/abandoned-uploads.js';
import { createAgent } from '../src/agent.js';
import { captureLogger, configDocument, makeWorkspace, until, writeConfig } from './helpers.js';

const HOUR = 3_600_000;

describe('abortAbandonedUploads', () => {
  let s3: LocalS3;
  let shim: MultipartShim;
  beforeAll(async () => {
    s3 = await startLocalS3({ buckets: ['t01logs'] });
    shim = await startMultipartShim({ port: s3.port, directory: s3.directory });
  });
  afterAll(async () => {
    await shim.close();
    await s3.close();
  });

  const client = () => s3.client({ endpoint: shim.endpoint });
  const start = async (key: string): Promise<string> =>
    (await client().send(new CreateMultipartUploadCommand({ Bucket: 't01logs', Key: key }))).UploadId ?? '';
  const pending = async (): Promise<string[]> =>
    ((await client().send(new ListMultipartUploadsCommand({ Bucket: 't01logs' }))).Uploads ?? [])
      .map((u) => u.UploadId ?? '')
      .sort();

  it('aborts unreferenced uploads of this vehicle older than a day, logging each and a summary', async () => {
    const referenced = await start('vehicle-CN-001/2025-10-20/ros/resumable.bin');
    const abandoned = await start('vehicle-CN-001/2025-10-20/ros/forgotten.bin');
    const otherVehicle = await start('vehicle-CN-002/2025-10-20/ros/theirs.bin');
    const options = (now: number, logger = captureLogger()) => ({
      uploader: createUploader({ client: client(), bucket: 't01logs', clock: createFakeClock(now) }),
      vehicleId: 'vehicle-CN-001',
      referencedUploadIds: new Set([referenced]),
      logger,
    });

    // Younger than the default age: nothing is aborted, even unreferenced.
    const early = captureLogger();
    expect(await abortAbandonedUploads(options(Date.now() + 23 * HOUR, early))).toEqual({
      aborted: [],
      kept: 2,
    });
    expect(early.lines.filter((l) => l.includes('Aborted abandoned'))).toEqual([]);

    const logger = captureLogger();
    const result = await abortAbandonedUploads(
      options(Date.now() + DEFAULT_ABANDONED_UPLOAD_AGE_MS + HOUR, logger),
    );
    expect(result.aborted.map((u) => u.uploadId)).toEqual([abandoned]);
    expect(result.kept).toBe(1);
    expect(await pending()).toEqual([referenced, otherVehicle].sort());
    const lines = logger.lines.filter((l) => l.includes('multipart upload'));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      new RegExp(
        `^Aborted abandoned multipart upload vehicle-CN-001/2025-10-20/ros/forgotten\\.bin \\(upload id ${abandoned}, started \\d{4}-.*\\): no queue entry references it$`,
      ),
    );
    expect(logger.lines).toContain(
      'Abandoned multipart uploads under vehicle-CN-001/: 1 aborted, 1 kept (referenced by the queue or younger than 24 h)',
    );
  });

  it('honours a stated age', async () => {
    const upload = await start('vehicle-CN-003/x.bin');
    const result = await abortAbandonedUploads({
      uploader: createUploader({
        client: client(),
        bucket: 't01logs',
        clock: createFakeClock(Date.now() + 2 * HOUR),
      }),
      vehicleId: 'vehicle-CN-003',
      referencedUploadIds: new Set(),
      olderThanMs: HOUR,
      logger: captureLogger(),
    });
    expect(result.aborted.map((u) => u.uploadId)).toEqual([upload]);
  });

  it('logs a warning and resolves when the destination cannot list uploads', async () => {
    const logger = captureLogger();
    // s3rver itself has no ListMultipartUploads (501).
    const result = await abortAbandonedUploads({
      uploader: createUploader({ client: s3.client(), bucket: 't01logs' }),
      vehicleId: 'vehicle-CN-001',
      referencedUploadIds: new Set(),
      logger,
    });
    expect(result).toMatchObject({ aborted: [], error: expect.any(String) });
    expect(
      logger.lines.some((l) =>
        l.startsWith('Abandoned multipart uploads under vehicle-CN-001/ not cleaned up'),
      ),
    ).toBe(true);
  });
});

describe('the agent aborts abandoned uploads (defect 10)', () => {
  let s3: LocalS3;
  let shim: MultipartShim;
  beforeAll(async () => {
    s3 = await startLocalS3({ buckets: ['t01logs'] });
    shim = await startMultipartShim({ port: s3.port, directory: s3.directory });
  });
  afterAll(async () => {
    await shim.close();
    await s3.close();
  });

  it('at start-up and then daily, keeping the uploads its queue references', async () => {
    const client = s3.client({ endpoint: shim.endpoint });
    const start = async (key: string) =>
      (await client.send(new CreateMultipartUploadCommand({ Bucket: 't01logs', Key: key }))).UploadId ?? '';
    const pending = async () =>
      ((await client.send(new ListMultipartUploadsCommand({ Bucket: 't01logs' }))).Uploads ?? []).map(
        (u) => u.UploadId,
      );
    const ws = await makeWorkspace();
    // Gone from disk, so the scheduled run a day later moves its entry to the failed list, which keeps the upload id.
    const resumable = join(ws.logs, 'ros', 'big.bag');
    const referenced = await start('vehicle-CN-001/2026-11-29/ros/big.bag');
    const forgotten = await start('vehicle-CN-001/2026-11-29/ros/lost.bag');
    // The queue entry of an interrupted upload holds its upload id.
    await writeFile(
      join(ws.state, 'queue.json'),
      JSON.stringify({
        files: [
          {
            filepath: resumable,
            source: 'ros',
            multipart: {
              uploadId: referenced,
              key: 'vehicle-CN-001/2026-11-29/ros/big.bag',
              partSize: 8388608,
              parts: [],
            },
          },
        ],
      }),
    );
    const config = await writeConfig(
      ws,
      configDocument(ws, shim.endpoint, 't01logs', {
        upload: {
          operational_hours: { enabled: true, start: '00:00', end: '00:01' },
          upload_on_start: false,
        },
      }),
    );
    const clock = createFakeClock(Date.now() + 25 * HOUR);
    const logger = captureLogger();
    const agent = await createAgent({ config, logger, clock, watch: false, commitDelayMs: 0 });
    try {
      await until(async () => !(await pending()).includes(forgotten), 10_000, 'the start-up abort');
      expect(await pending()).toContain(referenced);
      const late = await start('vehicle-CN-001/2026-11-30/ros/later.bag');
      await clock.advance(26 * HOUR); // a day later it is old enough, and the daily pass finds it
      await until(async () => !(await pending()).includes(late), 10_000, 'the daily abort');
      expect(await pending()).toContain(referenced);
      expect(agent.store.failed.get(resumable)?.multipart?.uploadId).toBe(referenced);
      expect(logger.lines.filter((l) => l.startsWith('Aborted abandoned multipart upload'))).toHaveLength(2);
    } finally {
      await agent.stop();
    }
  });
});
