import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { S3Client } from '@aws-sdk/client-s3';
import { createUploader, type TokenBucket, type Uploader } from '@tvm/s3-uploader';
import { limitAt } from '../bandwidth/timetable.js';
import type { Clock } from '../clock.js';
import { multipartThresholdBytes, type AgentConfig } from '../config.js';
import { objectSettingsOf } from '../object-governance.js';
import { fileNameEncoding } from '../file-names.js';
import { checkProfile, cloudWatchClientFor, DAEMON_MAX_ATTEMPTS, s3ClientFor } from './aws-clients.js';

const MIB = 1024 * 1024;
/** Parts of one file in flight (within `s3.concurrency` files): 4 keep a link busy; memory is files x parts x part size. */
const PART_CONCURRENCY = 4;

/** The AWS side of the agent: one S3 client and the uploader bound to it. */
export interface Destination {
  uploader: Uploader;
  client: S3Client;
  close(): void;
}

/**
 * Builds the S3 client and the uploader from the config. Credentials come from {@link s3ClientFor}: the named
 * `s3.profile` only (no fallback), re-read from the files each time, which is how a changed credentials file takes
 * effect when the destination is rebuilt. The client makes one attempt per request: the pipeline's schedule is the
 * only backoff.
 * `bandwidth` is the agent's one limit, shared by every client it builds; without it, the uploader gets a limiter of
 * its own at the rate `upload.bandwidth_limit` sets now.
 * @throws {AgentError} `invalid-config` when `s3.profile` names a profile the shared files do not define.
 */
export function createDestination(config: AgentConfig, clock: Clock, bandwidth?: TokenBucket): Destination {
  checkProfile(config);
  const client = s3ClientFor(config, { maxAttempts: DAEMON_MAX_ATTEMPTS });
  const uploader = createUploader({
    client,
    bucket: config.s3.bucket,
    clock,
    multipartThresholdBytes: multipartThresholdBytes(config),
    partSizeBytes: Math.round(config.s3.part_size_mb * MIB),
    concurrency: Math.min(PART_CONCURRENCY, config.s3.concurrency),
    checksumMode: config.s3.checksum_mode,
    ...(bandwidth
      ? { bandwidth }
      : {
          bandwidthLimitBytesPerSecond: limitAt(
            config.upload.bandwidth_limit,
            clock.now(),
            config.upload.timezone,
          ).bytesPerSecond,
        }),
    pathEncoding: fileNameEncoding,
    objectSettings: objectSettingsOf(config),
  });
  return { uploader, client, close: () => client.destroy() };
}

/**
 * The daemon's CloudWatch client for metrics (one attempt per request: the metrics buffer retries at the next
 * publish), or undefined when `monitoring.cloudwatch_enabled` is false.
 * @throws {AgentError} `invalid-config` when `s3.profile` names a profile the shared files do not define.
 */
export async function createCloudWatchClient(config: AgentConfig): Promise<CloudWatchClient | undefined> {
  if (!config.monitoring.cloudwatch_enabled) return undefined;
  return cloudWatchClientFor(config, { maxAttempts: DAEMON_MAX_ATTEMPTS });
}
