import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { appendFile, mkdir, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { identityOf } from '@tvm/durable-queue';
import { createUploader, type MultipartState, type UploadError } from '@tvm/s3-uploader';
import {
  fillFilesystem,
  startLocalS3,
  startMultipartShim,
  type LocalS3,
  type MultipartShim,
} from '@tvm/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploaderObjectStore } from '../src/adapters/pipeline-ports.js';
import {
  compressingUploader,
  Spool,
  type CompressionOptions,
  type CompressionSetting,
  type SpoolOptions,
} from '../src/compression/index.js';
import { captureLogger, objects, tempDirectory } from './helpers.js';

let s3: LocalS3;
let shim: MultipartShim;
beforeAll(async () => {
  s3 = await startLocalS3({ buckets: ['t01logs'] });
  // s3rver lacks ListParts, which resuming a multipart upload needs.
  shim = await startMultipartShim({ port: s3.port, directory: s3.directory });
});
afterAll(async () => {
  await shim?.close();
  await s3?.close();
});

const MiB = 1024 * 1024;
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');
const unzstd = (data: Buffer): Buffer =>
  execFileSync('zstd', ['-dcq'], { input: data, maxBuffer: 256 * MiB });
/** Text that compresses about 2:1 (hex digits), so a compressed copy of some MiB is still multipart. */
const hexText = (bytes: number) =>
  Buffer.from(
    randomBytes(Math.ceil(bytes / 2))
      .toString('hex')
      .slice(0, bytes),
  );

async function setUp(setting: CompressionSetting, spoolOptions: SpoolOptions = {}, spoolDir?: string) {
  const root = await tempDirectory('agent-compress-');
  const logs = join(root, 'logs');
  await mkdir(logs);
  const spool = await Spool.open(spoolDir ?? join(root, 'state', 'spool'), spoolOptions);
  const logger = captureLogger();
  const options: CompressionOptions = { spool, logger, settingFor: () => setting };
  const uploader = createUploader({
    client: s3.client({ endpoint: shim.endpoint }),
    bucket: 't01logs',
    multipartThresholdBytes: 5 * MiB,
    partSizeBytes: 5 * MiB,
    concurrency: 1,
  });
  return { root, logs, spool, logger, options, uploader, sender: compressingUploader(uploader, options) };
}

async function head(key: string) {
  return s3.client().send(new HeadObjectCommand({ Bucket: 't01logs', Key: key }));
}

async function body(key: string): Promise<Buffer | undefined> {
  return (await objects(s3.client(), 't01logs')).get(key);
}

describe('compressingUploader against s3rver', () => {
  it('sends a text log gzip-compressed to key.gz with the original size and SHA-256 in metadata', async () => {
    const t = await setUp('gzip');
    const file = join(t.logs, 'ros.log');
    const original = Buffer.from('[INFO] [1700000000.1] /planner: replanning\n'.repeat(20_000));
    await writeFile(file, original);
    const before = identityOf(await stat(file));
    const store = uploaderObjectStore(t.uploader, () => ({ vehicle_id: 'v', s3: { tags: {} } }), t.options);
    const stored = await store.upload({
      filePath: file,
      key: 'v/2025-10-20/ros/ros.log',
      source: 'ros',
      mtimeMs: 0,
    });
    expect(stored.original).toEqual({
      size: original.length,
      sha256: createHash('sha256').update(original).digest('hex'),
    });
    expect(stored.key).toBe('v/2025-10-20/ros/ros.log.gz');
    // The registry records the original's version, not the spool file's.
    expect(stored.version).toEqual(before);
    const object = await body('v/2025-10-20/ros/ros.log.gz');
    expect(object).toBeDefined();
    expect(stored.bytes).toBe(object!.length);
    expect(object!.length).toBeLessThan(original.length / 10);
    expect(gunzipSync(object!).equals(original)).toBe(true);
    const meta = (await head('v/2025-10-20/ros/ros.log.gz')).Metadata;
    expect(meta).toMatchObject({
      'tvm-compression': 'gzip',
      'tvm-original-size': String(original.length),
      'tvm-original-sha256': sha256(original),
      sha256: sha256(object!),
    });
    expect(await body('v/2025-10-20/ros/ros.log')).toBeUndefined();
    // Uploaded: the spool is empty again.
    expect(await readdir(t.spool.directory)).toEqual([]);
  });

  it('sends a text log zstd-compressed to key.zst (several frames, read back by the zstd tool)', async () => {
    const t = await setUp('zstd');
    const file = join(t.logs, 'big.txt');
    const original = Buffer.concat([hexText(3 * MiB), Buffer.from('tail\n'.repeat(1000))]);
    await writeFile(file, original);
    const result = await t.sender.upload({ filePath: file, key: 'v/d/terminal/big.txt' });
    expect(result.key).toBe('v/d/terminal/big.txt.zst');
    const object = (await body('v/d/terminal/big.txt.zst'))!;
    expect(unzstd(object).equals(original)).toBe(true);
    expect((await head(result.key)).Metadata).toMatchObject({
      'tvm-compression': 'zstd',
      'tvm-original-size': String(original.length),
      'tvm-original-sha256': sha256(original),
    });
  });

  it('recognises a gzip file named .log by its magic bytes and sends it as it is, to the plain key', async () => {
    const t = await setUp('gzip');
    const file = join(t.logs, 'rotated.log');
    const gz = gzipSync(Buffer.from('line\n'.repeat(50_000)));
    await writeFile(file, gz);
    const result = await t.sender.upload({ filePath: file, key: 'v/d/syslog/rotated.log' });
    expect(result.key).toBe('v/d/syslog/rotated.log');
    expect((await body('v/d/syslog/rotated.log'))!.equals(gz)).toBe(true);
    expect((await head('v/d/syslog/rotated.log')).Metadata).not.toHaveProperty('tvm-compression');
    expect(t.logger.lines).toContain(
      `Sending ${file} uncompressed: it is gzip data already (by its first bytes)`,
    );
  });

  it('sends incompressible data and .bag files as they are', async () => {
    const t = await setUp('zstd');
    const noise = join(t.logs, 'noise.bin');
    const bag = join(t.logs, 'drive.bag');
    await writeFile(noise, randomBytes(200_000));
    await writeFile(bag, Buffer.from('not compressed at all '.repeat(10_000)));
    expect((await t.sender.upload({ filePath: noise, key: 'v/d/ros/noise.bin' })).key).toBe(
      'v/d/ros/noise.bin',
    );
    expect((await t.sender.upload({ filePath: bag, key: 'v/d/ros/drive.bag' })).key).toBe(
      'v/d/ros/drive.bag',
    );
    expect((await body('v/d/ros/noise.bin'))!.equals(await readFile(noise))).toBe(true);
    expect(
      t.logger.lines.some((l) =>
        /noise\.bin uncompressed: its first 200000 bytes compress to 10\d\.\d%/.test(l),
      ),
    ).toBe(true);
  });

  it('passes a file without compression straight through', async () => {
    const t = await setUp('none');
    const file = join(t.logs, 'plain.log');
    await writeFile(file, 'plain\n'.repeat(1000));
    const result = await t.sender.upload({ filePath: file, key: 'v/d/ros/plain.log' });
    expect(result.key).toBe('v/d/ros/plain.log');
    expect(await readdir(t.spool.directory)).toEqual([]);
  });

  describe('a compressed multipart upload interrupted after its first part', () => {
    /** Uploads until the first part is acknowledged, then cancels; resolves to the saved state. */
    async function interrupted(t: Awaited<ReturnType<typeof setUp>>, file: string, key: string) {
      const controller = new AbortController();
      let saved: MultipartState | undefined;
      await expect(
        t.sender.upload({
          filePath: file,
          key,
          signal: controller.signal,
          onStateChange: (state) => {
            saved = state;
            if (state && state.parts.length >= 1) controller.abort(new Error('the process dies'));
          },
        }),
      ).rejects.toThrow();
      expect(saved?.parts.length).toBe(1);
      return saved!;
    }

    it('resumes from the spool file without resending the finished part', async () => {
      const t = await setUp('gzip');
      const file = join(t.logs, 'planner.log');
      const original = hexText(12 * MiB);
      await writeFile(file, original);
      const saved = await interrupted(t, file, 'v/d/ros/planner.log');
      expect(saved.key).toBe('v/d/ros/planner.log.gz');
      // A new uploader: a new process after the reboot, with the state the queue kept.
      const fresh = await setUp('gzip', {}, t.spool.directory);
      const result = await fresh.sender.upload({
        filePath: file,
        key: 'v/d/ros/planner.log',
        resumeState: saved,
      });
      expect(result.resumedParts).toBe(1);
      expect(result.parts).toBeGreaterThan(1);
      expect(gunzipSync((await body('v/d/ros/planner.log.gz'))!).equals(original)).toBe(true);
      expect(fresh.logger.lines.some((l) => l.startsWith(`Resuming with ${file} (gzip)`))).toBe(true);
    }, 60_000);

    it('resumes even when the spool file was lost: compressed again, it is the same file byte for byte', async () => {
      const t = await setUp('zstd');
      const file = join(t.logs, 'perception.log');
      const original = hexText(12 * MiB);
      await writeFile(file, original);
      const saved = await interrupted(t, file, 'v/d/ros/perception.log');
      await rm(t.spool.directory, { recursive: true });
      const fresh = await setUp('zstd', {}, t.spool.directory);
      const result = await fresh.sender.upload({
        filePath: file,
        key: 'v/d/ros/perception.log',
        resumeState: saved,
      });
      expect(result.resumedParts).toBe(1);
      expect(unzstd((await body('v/d/ros/perception.log.zst'))!).equals(original)).toBe(true);
    }, 60_000);
  });

  it('never reports the upload of a file that changed while it was compressed', async () => {
    const file = join(await tempDirectory('agent-compress-changing-'), 'growing.log');
    await writeFile(file, hexText(3 * MiB));
    const t = await setUp('gzip', {
      onRead: async (position) => {
        if (position === MiB) await appendFile(file, 'one more line\n');
      },
    });
    const error = (await t.sender
      .upload({ filePath: file, key: 'v/d/ros/growing.log' })
      .catch((e: unknown) => e)) as UploadError;
    expect(error.code).toBe('file-changed');
    expect(error.classification.kind).toBe('temporary');
    expect(error.message).toMatch(
      /^File changed while compressing: .*growing\.log \(size 3145728 -> 3145742/,
    );
    expect(await body('v/d/ros/growing.log.gz')).toBeUndefined();
    expect(await readdir(t.spool.directory)).toEqual([]);
  });

  it('sweeps spool files whose original is no longer queued, and partial ones, at start-up', async () => {
    const t = await setUp('gzip');
    const keep = join(t.logs, 'keep.log');
    const gone = join(t.logs, 'gone.log');
    for (const f of [keep, gone]) await writeFile(f, 'compressible\n'.repeat(100_000));
    // Compressed, then the process died before the upload: both leave a complete spool file behind.
    for (const f of [keep, gone]) {
      const handle = await open(f, 'r');
      const prepared = await t.spool.prepare(f, handle, identityOf(await handle.stat()), 'gzip');
      await handle.close();
      expect(prepared).toHaveProperty('reused', false);
    }
    const spools = async () => (await readdir(t.spool.directory)).sort();
    expect((await spools()).filter((n) => n.endsWith('.gz'))).toHaveLength(2);
    await writeFile(join(t.spool.directory, 'abc.gz.partial'), 'half');
    await writeFile(join(t.spool.directory, 'orphan.gz'), 'no marker');
    const swept = await t.spool.sweep((path) => path === keep);
    expect(swept).toMatchObject({ kept: 1, removed: 3 });
    expect(await spools()).toHaveLength(2); // keep's spool and its marker
    // A queued file that changed since: its spool is stale.
    await appendFile(keep, 'more\n');
    expect(await t.spool.sweep(() => true)).toMatchObject({ kept: 0, removed: 1 });
    expect(await spools()).toEqual([]);
  });

  it('marks only a spool file large enough to go in parts: a small one syncs no marker and is never taken over', async () => {
    const t = await setUp('gzip', { resumableFromBytes: 5 * MiB });
    const small = join(t.logs, 'small.log');
    const large = join(t.logs, 'large.log');
    await writeFile(small, 'compressible\n'.repeat(100_000));
    // Hex text compresses about 2:1: a compressed copy of over 5 MiB, sent in parts.
    await writeFile(large, hexText(12 * MiB));
    const prepare = async (file: string) => {
      const handle = await open(file, 'r');
      try {
        return await t.spool.prepare(file, handle, identityOf(await handle.stat()), 'gzip');
      } finally {
        await handle.close();
      }
    };
    const names = async () => (await readdir(t.spool.directory)).sort();
    expect(await prepare(small)).toHaveProperty('reused', false);
    expect((await names()).filter((n) => n.endsWith('.json'))).toEqual([]);
    // Asked again (a retry of the same version), the small one is compressed again: nothing to resume.
    expect(await prepare(small)).toHaveProperty('reused', false);
    expect(await prepare(large)).toHaveProperty('reused', false);
    expect((await names()).filter((n) => n.endsWith('.json'))).toHaveLength(1);
    expect(await prepare(large)).toHaveProperty('reused', true);
    // After a crash the start-up sweep removes the unmarked one, queued or not, and keeps the marked one.
    expect(await t.spool.sweep(() => true)).toMatchObject({ kept: 1, removed: 1 });
  });
});

describe('compressingUploader on a full spool filesystem (a real 1 MiB tmpfs)', () => {
  let mountPoint: string | undefined;
  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agent-spool-tmpfs-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { stdio: 'pipe' });
      mountPoint = dir;
    } catch {
      mountPoint = undefined;
    }
  });
  afterAll(() => {
    if (mountPoint) execFileSync('umount', [mountPoint]);
  });

  it('sends the file uncompressed, and says so, when the spool cannot be written', async (context) => {
    if (!mountPoint) {
      context.skip('mounting a tmpfs needs root');
      return;
    }
    const t = await setUp('gzip', {}, join(mountPoint, 'spool'));
    await fillFilesystem(join(mountPoint, 'filler'));
    const file = join(t.logs, 'control.log');
    const original = Buffer.from('[WARN] /control: slow loop\n'.repeat(40_000));
    await writeFile(file, original);
    const result = await t.sender.upload({ filePath: file, key: 'v/d/ros/control.log' });
    expect(result.key).toBe('v/d/ros/control.log');
    expect((await body('v/d/ros/control.log'))!.equals(original)).toBe(true);
    expect(
      t.logger.lines.some(
        (l) =>
          l.startsWith(`Cannot compress ${file} into ${t.spool.directory} (`) &&
          l.endsWith('): sending it uncompressed'),
      ),
    ).toBe(true);
    expect(await readdir(t.spool.directory)).toEqual([]);
  });
});
