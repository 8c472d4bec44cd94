import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { createUploader, UploadError, type MultipartState } from '@tvm/s3-uploader';

// On a vehicle: region cn-north-1 (endpoint s3.cn-north-1.amazonaws.com.cn), credentials from the `china` profile.
// S3_ENDPOINT points at an S3-compatible server instead: path-style addressing, checksums only when required.
const endpoint = process.env['S3_ENDPOINT'];
const client = new S3Client({
  region: 'cn-north-1',
  ...(endpoint
    ? {
        endpoint,
        forcePathStyle: true,
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      }
    : {}),
  // Give up on a connection silent for 30 s (a WiFi link that died without closing) instead of waiting forever.
  requestHandler: new NodeHttpHandler({ connectionTimeout: 10_000, socketTimeout: 30_000 }),
});

const uploader = createUploader({
  client,
  bucket: process.env['S3_BUCKET'] ?? 't01logs',
  bandwidthLimitBytesPerSecond: 32 * 1024 * 1024, // shared by every upload of this uploader
});

const dir = await mkdtemp(join(tmpdir(), 'uploader-example-'));
const file = join(dir, 'launch.log');
await writeFile(file, Buffer.alloc(20 * 1024 * 1024, 'ros log line\n'));

// Persist the state (e.g. in the queue entry) after every part; pass it back after a restart to resume.
let saved: MultipartState | undefined;
try {
  const result = await uploader.upload({
    filePath: file,
    key: 'vehicle-CN-001/2025-10-20/ros/launch.log',
    resumeState: saved,
    onStateChange: (state) => {
      saved = state;
    },
  });
  console.log(
    `uploaded ${result.key}: ${result.bytes} bytes in ${result.parts} parts, sha256 ${result.sha256}`,
  );
  // uploaded vehicle-CN-001/2025-10-20/ros/launch.log: 20971520 bytes in 3 parts, sha256 <hex>

  const again = await uploader.upload({ filePath: file, key: result.key });
  console.log(`again: ${again.skipped}`);
  // again: already-present
} catch (error) {
  if (!(error instanceof UploadError)) throw error;
  // e.g. "request-failed network temporary: ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:9000"
  const { category, kind, message } = error.classification;
  console.log(`${error.code} ${category} ${kind}: ${message}`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
