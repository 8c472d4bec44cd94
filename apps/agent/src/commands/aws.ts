import { join } from 'node:path';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { S3Client } from '@aws-sdk/client-s3';
import { STSClient } from '@aws-sdk/client-sts';
import { fromIni, fromNodeProviderChain } from '@aws-sdk/credential-providers';
import type { AgentConfig } from '../config.js';

/** A credentials provider, as the SDK clients accept it. */
export type CredentialsProvider = ReturnType<typeof fromIni> | ReturnType<typeof fromNodeProviderChain>;

/**
 * The credentials the agent uses: the named `s3.profile` from the shared files in `s3.credentials_path`, or the
 * SDK's default chain (environment, shared files, instance role) when no profile is configured.
 */
export function credentialsFor(config: AgentConfig): CredentialsProvider {
  const files = {
    filepath: join(config.s3.credentials_path, 'credentials'),
    configFilepath: join(config.s3.credentials_path, 'config'),
  };
  return config.s3.profile === undefined
    ? fromNodeProviderChain(files)
    : fromIni({ ...files, profile: config.s3.profile });
}

/** Keeps diagnostics quick: one retry, not the SDK's default three. */
const MAX_ATTEMPTS = 2;

/** An S3 client as the config describes it (endpoint, path style and checksum mode included). */
export function s3ClientFor(config: AgentConfig, credentials = credentialsFor(config)): S3Client {
  const checksum = config.s3.checksum_mode === 'when_required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED';
  return new S3Client({
    region: config.s3.region,
    credentials,
    forcePathStyle: config.s3.force_path_style,
    requestChecksumCalculation: checksum,
    responseChecksumValidation: checksum,
    maxAttempts: MAX_ATTEMPTS,
    ...(config.s3.endpoint === undefined ? {} : { endpoint: config.s3.endpoint }),
  });
}

/**
 * A CloudWatch client in the bucket's region. Its endpoint is AWS's unless `AWS_ENDPOINT_URL_CLOUDWATCH` (the
 * SDK's own setting) points elsewhere.
 */
export function cloudWatchClientFor(
  config: AgentConfig,
  credentials = credentialsFor(config),
): CloudWatchClient {
  return new CloudWatchClient({ region: config.s3.region, credentials, maxAttempts: MAX_ATTEMPTS });
}

/** An STS client in the bucket's region (`AWS_ENDPOINT_URL_STS` overrides its endpoint). */
export function stsClientFor(config: AgentConfig, credentials = credentialsFor(config)): STSClient {
  return new STSClient({ region: config.s3.region, credentials, maxAttempts: MAX_ATTEMPTS });
}
