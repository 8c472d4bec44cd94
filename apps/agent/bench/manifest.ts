/**
 * Benchmark of a day's delivery manifest: a journal of 50,000 uploads (the lines the daemon records) turned into the
 * manifest object and written to a local S3 server, as the daemon does after midnight; then `audit`'s comparison
 * with a listing of those 50,000 objects' keys. Prints the time and the process's peak RSS over each step, and the
 * AWS CLI v2 copying the same manifest file to the same server for comparison.
 * Usage: pnpm --filter @tvm/agent bench:manifest [-- --files 50000]
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { startLocalS3 } from '@tvm/test-utils';
import { auditDay, ManifestJournal, publishManifest, type ListedObject } from '../src/manifests/index.js';

const run = promisify(execFile);
const { values } = parseArgs({ options: { files: { type: 'string', default: '50000' } } });
const FILES = Number(values.files);
const DATE = '2026-12-01';
const VEHICLE = 'vehicle-CN-001';

/** Peak RSS while `step` runs (sampled every 5 ms), and its duration. */
async function measure<T>(step: () => Promise<T>): Promise<{ result: T; ms: number; peakMiB: number }> {
  let peak = process.memoryUsage.rss();
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 5);
  const started = performance.now();
  try {
    const result = await step();
    return {
      result,
      ms: performance.now() - started,
      peakMiB: Math.max(peak, process.memoryUsage.rss()) / 2 ** 20,
    };
  } finally {
    clearInterval(sampler);
  }
}

const dir = await mkdtemp(join(tmpdir(), 'tvm-bench-manifest-'));
const s3 = await startLocalS3({ directory: join(dir, 's3') });
try {
  const journal = new ManifestJournal({ directory: join(dir, 'manifests'), dateOf: () => DATE });
  const dayStart = Date.parse(`${DATE}T00:00:00+08:00`);
  const keys: ListedObject[] = [];
  for (let i = 0; i < FILES; i++) {
    const key = `${VEHICLE}/${DATE}/ros/run-${i % 50}/node-${i}.log`;
    const at = dayStart + i * 1000;
    journal.record(
      {
        type: 'uploaded',
        key,
        size: 1000 + i,
        sha256: (i.toString(16).padStart(8, '0') + 'a'.repeat(56)).slice(0, 64),
        mtime: new Date(at - 60_000).toISOString(),
        uploaded_at: new Date(at).toISOString(),
        path: `/var/log/ros/run-${i % 50}/node-${i}.log`,
      },
      at,
    );
    keys.push({ key, size: 1000 + i, lastModified: at });
  }
  await journal.flush();
  const client = s3.client();
  const baseline = process.memoryUsage.rss() / 2 ** 20;
  const written = await measure(() => publishManifest(client, s3.bucket, VEHICLE, journal, DATE));
  const audited = await measure(async () =>
    auditDay(
      DATE,
      (await journal.body(DATE)).body
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
      keys,
      () => true,
    ),
  );
  console.log(
    `load average ${(await import('node:os'))
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  console.log(
    `manifest of ${FILES} uploads: ${written.result.lines} lines, ${(written.result.bytes / 2 ** 20).toFixed(1)} MiB, ` +
      `written in ${(written.ms / 1000).toFixed(2)} s (target < 5 s), peak RSS ${written.peakMiB.toFixed(0)} MiB ` +
      `(${(written.peakMiB - baseline).toFixed(0)} MiB over the ${baseline.toFixed(0)} MiB before)`,
  );
  console.log(
    `audit comparison of ${FILES} lines with ${keys.length} listed objects: ${(audited.ms / 1000).toFixed(2)} s, ` +
      `${audited.result.matched} matched, peak RSS ${audited.peakMiB.toFixed(0)} MiB`,
  );
  client.destroy();
  // The same bytes copied by the AWS CLI v2 (Debian's, at /usr/bin/aws) to the same server.
  const aws = '/usr/bin/aws';
  try {
    const { stdout: version } = await run(aws, ['--version']);
    const file = join(dir, 'manifest.jsonl');
    await writeFile(file, (await journal.body(DATE)).body);
    const env = {
      ...process.env,
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_DEFAULT_REGION: 'cn-north-1',
    };
    const started = performance.now();
    await run(aws, ['s3', 'cp', file, `s3://${s3.bucket}/cli-copy.jsonl`, '--endpoint-url', s3.endpoint], {
      env,
    });
    console.log(
      `${aws} (${version.trim()}) s3 cp of the same manifest file: ${((performance.now() - started) / 1000).toFixed(2)} s`,
    );
  } catch (error) {
    console.log(`SKIP AWS CLI comparison: ${(error as Error).message.split('\n')[0]}`);
  }
} finally {
  await s3.close();
  await rm(dir, { recursive: true, force: true });
}
