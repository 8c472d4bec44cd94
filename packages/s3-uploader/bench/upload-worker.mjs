// One side of the benchmark, in its own process so /usr/bin/time measures only the uploader. Plain JavaScript
// importing the built package (dist), so the measured process carries no TypeScript loader (tsx adds ~20 MB RSS
// and a second of CPU at start-up, which would be charged to the uploader).
//   node upload-worker.mjs <endpoint> <bucket> <prefix> <file-or-directory> [parallel files]
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import process from 'node:process';
import { S3Client } from '@aws-sdk/client-s3';
import { createUploader } from '@tvm/s3-uploader';

const [endpoint = '', bucket = '', prefix = '', target = '', parallelArg = '10'] = process.argv.slice(2);
const client = new S3Client({
  endpoint,
  region: 'us-east-1',
  forcePathStyle: true,
  credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
});
// Knobs for experiments; the printed benchmark uses the defaults.
const uploader = createUploader({
  client,
  bucket,
  ...(process.env.BENCH_CONCURRENCY ? { concurrency: Number(process.env.BENCH_CONCURRENCY) } : {}),
  ...(process.env.BENCH_PART_MIB ? { partSizeBytes: Number(process.env.BENCH_PART_MIB) * 1024 * 1024 } : {}),
  ...(process.env.BENCH_CHECKSUM_MODE ? { checksumMode: process.env.BENCH_CHECKSUM_MODE } : {}),
  ...(process.env.BENCH_BANDWIDTH
    ? { bandwidthLimitBytesPerSecond: Number(process.env.BENCH_BANDWIDTH) }
    : {}),
});

const files = (await stat(target)).isDirectory()
  ? (await readdir(target)).sort().map((name) => join(target, name))
  : [target];
let next = 0;
// The AWS CLI sends up to 10 requests at once; the agent's pipeline bounds its file concurrency the same way.
const lanes = Array.from({ length: Math.min(Number(parallelArg), files.length) }, async () => {
  while (next < files.length) {
    const file = files[next++];
    await uploader.upload({ filePath: file, key: `${prefix}/${file.slice(file.lastIndexOf('/') + 1)}` });
  }
});
await Promise.all(lanes);
client.destroy();
