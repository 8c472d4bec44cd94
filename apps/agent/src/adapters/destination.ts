import { join } from 'node:path';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { createCredentialChain, fromIni, fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { createUploader, type Uploader } from '@tvm/s3-uploader';
import type { Clock } from '../clock.js';
import type { AgentConfig } from '../config.js';

const MIB = 1024 * 1024;

/** The AWS side of the agent: one S3 client and the uploader bound to it. */
export interface Destination {
  uploader: Uploader;
  client: S3Client;
  close(): void;
}

/**
 * Credentials: the named `s3.profile` from the shared AWS files in `s3.credentials_path`, falling back to the SDK's
 * default chain (environment, instance role, ...). Built anew whenever the destination is rebuilt, which is how a
 * changed credentials file takes effect without a restart.
 */
function credentials(config: AgentConfig): NonNullable<S3ClientConfig['credentials']> {
  const files = {
    filepath: join(config.s3.credentials_path, 'credentials'),
    configFilepath: join(config.s3.credentials_path, 'config'),
  };
  const fallback = fromNodeProviderChain(files);
  if (config.s3.profile === undefined) return fallback;
  return createCredentialChain(
    fromIni({ ...files, profile: config.s3.profile, ignoreCache: true }),
    fallback,
  );
}

/**
 * Network timeouts for every AWS client. The SDK has none by default, so a WiFi link that stalls mid-request would
 * hang that upload (and its slot) forever. A stalled socket instead fails as a `TimeoutError`, classified
 * `timeout`, which the pipeline treats as a possible outage. `socketTimeout` is an inactivity limit, so a slow but
 * moving multipart part is never cut off.
 */
function networkTimeouts(config: AgentConfig): { connectionTimeout: number; socketTimeout: number } {
  return {
    connectionTimeout: Math.round(config.s3.connect_timeout_seconds * 1000),
    socketTimeout: Math.round(config.s3.socket_timeout_seconds * 1000),
  };
}

/** The S3 client's settings for this config. */
export function clientConfig(config: AgentConfig): S3ClientConfig {
  const checksums = config.s3.checksum_mode === 'when_required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED';
  return {
    region: config.s3.region,
    ...(config.s3.endpoint === undefined ? {} : { endpoint: config.s3.endpoint }),
    forcePathStyle: config.s3.force_path_style,
    credentials: credentials(config),
    requestChecksumCalculation: checksums,
    responseChecksumValidation: checksums,
    // The queue owns retries (written into queue.json, never slept on); one SDK retry absorbs a dropped connection.
    maxAttempts: 2,
    requestHandler: networkTimeouts(config),
  };
}

/** Builds the S3 client and the uploader from the config. */
export function createDestination(config: AgentConfig, clock: Clock): Destination {
  const client = new S3Client(clientConfig(config));
  const uploader = createUploader({
    client,
    bucket: config.s3.bucket,
    clock,
    multipartThresholdBytes: Math.round(config.s3.multipart_threshold_mb * MIB),
    partSizeBytes: Math.round(config.s3.part_size_mb * MIB),
    concurrency: config.s3.concurrency,
    checksumMode: config.s3.checksum_mode,
    bandwidthLimitBytesPerSecond: config.upload.bandwidth_limit,
  });
  return { uploader, client, close: () => client.destroy() };
}

/** The CloudWatch client for metrics, or undefined when `monitoring.cloudwatch_enabled` is false. */
export function createCloudWatchClient(config: AgentConfig): CloudWatchClient | undefined {
  if (!config.monitoring.cloudwatch_enabled) return undefined;
  return new CloudWatchClient({
    region: config.s3.region,
    credentials: credentials(config),
    maxAttempts: 2,
    requestHandler: networkTimeouts(config),
  });
}
