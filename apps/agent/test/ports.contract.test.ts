import { mkdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { openStateStore } from '@tvm/durable-queue';
import { classify } from '@tvm/error-classification';
import { createUploader } from '@tvm/s3-uploader';
import { createFakeClock, startLocalS3, type LocalS3 } from '@tvm/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileSystemProbe, uploaderObjectStore } from '../src/adapters/pipeline-ports.js';
import type { FileProbe, ObjectStore, PipelineStore } from '../src/pipeline/index.js';
import { MemoryBucket, MemoryStore, MemoryVolume } from './fakes.js';
import { tempDirectory } from './helpers.js';

/**
 * The pipeline's ports, one contract each, run against the real adapter and against the in-memory fake the fast
 * pipeline tests use: a fake that passes is a fake those tests may trust.
 */

interface StoreRig {
  store: PipelineStore;
  seed(entry: {
    filepath: string;
    mtimeMs?: number;
    nextAttemptAt?: number;
    attempts?: number;
  }): Promise<void>;
}

interface FilesRig {
  files: FileProbe;
  objects: ObjectStore;
  /** Writes a file; returns its path. */
  write(name: string, body: string): Promise<string>;
  /** A symlink to a file that exists; returns the link's path. */
  link(name: string): Promise<string>;
  read(key: string): Promise<Buffer | undefined>;
  missing(name: string): string;
}

let s3: LocalS3;
beforeAll(async () => {
  s3 = await startLocalS3({ buckets: ['contract'] });
});
afterAll(async () => {
  await s3?.close();
});

const NOW = 1_800_000_000_000;

const storeRigs: Array<[string, () => Promise<StoreRig>]> = [
  [
    'durable-queue StateStore',
    async () => {
      const dir = await tempDirectory('contract-');
      const real = await openStateStore({
        queueFile: join(dir, 'queue.json'),
        clock: createFakeClock(NOW),
        commitDelayMs: 0,
      });
      return { store: real, seed: async (entry) => void (await real.queue.add(entry)) };
    },
  ],
  [
    'MemoryStore',
    () => {
      const fake = new MemoryStore(() => NOW);
      return Promise.resolve({ store: fake, seed: (entry) => Promise.resolve(fake.add(entry)) });
    },
  ],
];

describe.each(storeRigs)('PipelineStore contract: %s', (_name, make) => {
  it('reads, patches and removes entries', async () => {
    const { store, seed } = await make();
    await seed({ filepath: '/l/a.log', mtimeMs: NOW - 10 });
    expect(store.queue.size).toBe(1);
    expect(store.queue.get('/l/a.log')).toMatchObject({ attempts: 0, nextAttemptAt: 0 });
    const lastError = { category: 'throttled', message: 'SlowDown', at: NOW };
    await store.queue.update('/l/a.log', { attempts: 2, nextAttemptAt: NOW + 4000, lastError });
    expect(store.queue.get('/l/a.log')).toMatchObject({ attempts: 2, nextAttemptAt: NOW + 4000, lastError });
    await store.queue.update('/l/a.log', { lastError: undefined });
    expect(store.queue.get('/l/a.log')?.lastError).toBeUndefined();
    expect(await store.queue.update('/l/none.log', { attempts: 1 })).toBeUndefined();
    expect(await store.queue.remove('/l/a.log')).toBe(true);
    expect(await store.queue.remove('/l/a.log')).toBe(false);
    expect(store.queue.size).toBe(0);
  });

  it('lists due entries oldest first or newest first', async () => {
    const { store, seed } = await make();
    await seed({ filepath: '/l/new.log', mtimeMs: NOW - 10 });
    await seed({ filepath: '/l/old.log', mtimeMs: NOW - 1000 });
    await seed({ filepath: '/l/later.log', mtimeMs: NOW - 500, nextAttemptAt: NOW + 1 });
    expect(store.queue.due(NOW, { order: 'oldest_first' }).map((e) => e.filepath)).toEqual([
      '/l/old.log',
      '/l/new.log',
    ]);
    expect(store.queue.due(NOW, { order: 'newest_first' }).map((e) => e.filepath)).toEqual([
      '/l/new.log',
      '/l/old.log',
    ]);
    expect(store.queue.list()).toHaveLength(3);
  });

  it('moves a failed file off the queue, keeping its attempts unless given', async () => {
    const { store, seed } = await make();
    await seed({ filepath: '/l/a.log', attempts: 3 });
    const failed = await store.failed.add({
      filepath: '/l/a.log',
      category: 'file-not-found',
      message: 'gone',
    });
    expect(failed).toMatchObject({
      filepath: '/l/a.log',
      category: 'file-not-found',
      attempts: 3,
      failedAt: NOW,
    });
    expect(store.queue.get('/l/a.log')).toBeUndefined();
  });

  it('registers an uploaded version', async () => {
    const { store } = await make();
    const entry = await store.registry.mark({
      filepath: '/l/a.log',
      size: 3,
      mtimeMs: NOW - 5,
      dev: 1,
      ino: 9,
      key: 'v/k',
    });
    expect(entry).toMatchObject({
      filepath: '/l/a.log',
      size: 3,
      dev: 1,
      ino: 9,
      key: 'v/k',
      uploadedAt: NOW,
    });
  });
});

const filesRigs: Array<[string, () => Promise<FilesRig>]> = [
  [
    'fs + @tvm/s3-uploader on s3rver',
    async () => {
      const dir = await tempDirectory('contract-');
      await mkdir(join(dir, 'other'));
      const client = s3.client();
      const uploader = createUploader({ client, bucket: 'contract', checksumMode: 'when_required' });
      return {
        files: fileSystemProbe,
        objects: uploaderObjectStore(uploader, () => ({ vehicle_id: 'v1', s3: { tags: {} } })),
        async write(name, body) {
          await writeFile(join(dir, name), body);
          return join(dir, name);
        },
        async link(name) {
          await writeFile(join(dir, 'other', name), 'target');
          await symlink(join(dir, 'other', name), join(dir, name));
          return join(dir, name);
        },
        async read(key) {
          const got = await client
            .send(new GetObjectCommand({ Bucket: 'contract', Key: key }))
            .catch(() => undefined);
          return got ? Buffer.from(await got.Body!.transformToByteArray()) : undefined;
        },
        missing: (name) => join(dir, name),
      };
    },
  ],
  [
    'MemoryVolume + MemoryBucket',
    () => {
      const volume = new MemoryVolume();
      const bucket = new MemoryBucket(volume);
      return Promise.resolve({
        files: volume,
        objects: bucket,
        write: (name, body) => {
          volume.write(`/mem/${name}`, body, NOW - 1000);
          return Promise.resolve(`/mem/${name}`);
        },
        link: (name) => {
          volume.symlink(`/mem/${name}`);
          return Promise.resolve(`/mem/${name}`);
        },
        read: (key) => Promise.resolve(bucket.objects.get(key)),
        missing: (name) => `/mem/${name}`,
      });
    },
  ],
];

describe.each(filesRigs)('FileProbe and ObjectStore contract: %s', (_name, make) => {
  it('uploads a file and reports the version it sent', async () => {
    const rig = await make();
    const path = await rig.write('a.log', 'hello contract\n');
    const facts = await rig.files.stat(path);
    expect(facts).toMatchObject({ isFile: true, size: 15 });
    const key = `v1/${Math.random().toString(36).slice(2)}/a.log`;
    const stored = await rig.objects.upload({ filePath: path, key, source: 'ros', mtimeMs: 0 });
    expect(stored).toMatchObject({ key, bytes: 15, version: { size: 15, mtimeMs: facts.mtimeMs } });
    expect(typeof stored.version.ino).toBe('number');
    expect((await rig.read(key))?.toString()).toBe('hello contract\n');
    await rig.objects.checkDestination();
  });

  it('fails a missing file as file-not-found, and a symlink as a permanent error of the file', async () => {
    const rig = await make();
    const missing = rig.missing('gone.log');
    await expect(rig.files.stat(missing)).rejects.toMatchObject({ code: 'ENOENT' });
    const notFound = await rig.objects
      .upload({ filePath: missing, key: 'v1/gone.log', source: 'ros', mtimeMs: 0 })
      .catch((e: unknown) => e);
    expect(classify(notFound).category).toBe('file-not-found');
    const link = await rig.link('link.log');
    expect((await rig.files.stat(link)).isFile).toBe(false);
    const refused = await rig.objects
      .upload({ filePath: link, key: 'v1/link.log', source: 'ros', mtimeMs: 0 })
      .catch((e: unknown) => e);
    expect(classify(refused)).toMatchObject({ kind: 'permanent', scope: 'file' });
    expect(await rig.read('v1/link.log')).toBeUndefined();
  });
});

// The real probe must report what lstat says (never the symlink's target).
it('fileSystemProbe agrees with lstat', async () => {
  const dir = await tempDirectory('contract-');
  await writeFile(join(dir, 'f'), 'x');
  const facts = await fileSystemProbe.stat(join(dir, 'f'));
  expect(facts.mtimeMs).toBe((await stat(join(dir, 'f'))).mtimeMs);
});
