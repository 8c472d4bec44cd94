import { readFileSync } from 'node:fs';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import type { STSClient } from '@aws-sdk/client-sts';
import { fromIni, fromNodeProviderChain } from '@aws-sdk/credential-providers';
import type { AgentConfig } from '../config.js';
import { AgentError } from '../errors.js';
import { profileName, readIni, sharedFilesIn } from './aws-profile.js';

// The one place that builds AWS credentials and clients, for the daemon and every command (`verify`, `alarms`,
// ...), so what `verify` checks is what the daemon uses.

/** A credentials provider, as the SDK clients accept it. */
export type CredentialsProvider = ReturnType<typeof fromIni> | ReturnType<typeof fromNodeProviderChain>;

/**
 * The daemon's SDK attempts per request: one. The pipeline's schedule (written into queue.json, on the injected
 * clock) is the only backoff; an SDK retry would sleep in real time, outside the clock and the retry budget (it
 * retries a 503 once by itself otherwise).
 */
export const DAEMON_MAX_ATTEMPTS = 1;

/**
 * The ops commands' SDK attempts per request: one as well. `verify` and `alarms apply` retry temporary errors with
 * p-retry driven by `@tvm/error-classification` (see commands/retry.ts), so there is one retry policy, not the
 * SDK's nested inside ours.
 */
export const COMMAND_MAX_ATTEMPTS = 1;

/** Options of the client factories. */
export interface AwsClientOptions {
  /** SDK attempts per request (1 = no SDK retry). @default DAEMON_MAX_ATTEMPTS */
  maxAttempts?: number;
  /** Reuse a provider (one credentials resolution for several clients). @default credentialsFor(config) */
  credentials?: CredentialsProvider;
}

/** The shared AWS files the agent reads, both under `s3.credentials_path`. */
export function sharedFiles(config: AgentConfig): { filepath: string; configFilepath: string } {
  return sharedFilesIn(config.s3.credentials_path);
}

/**
 * Throws when `s3.profile` names a profile that neither shared file defines. A missing named profile is a
 * configuration error, never a reason to fall back to other credentials (the old daemon silently uploaded with
 * whatever the default chain found, while `verify` failed). Reads the files synchronously (they are a few hundred
 * bytes) so that building a destination stays synchronous. Sections follow the SDK's rules: `[name]` in
 * `credentials`, `[profile name]` (or `[default]`) in `config`.
 * @throws {AgentError} code `invalid-config`, naming `s3.profile` and the files looked in.
 */
export function checkProfile(config: AgentConfig): void {
  const profile = config.s3.profile;
  if (profile === undefined) return;
  const files = sharedFiles(config);
  const inCredentials = readIni(files.filepath).has(profile);
  const inConfig = [...readIni(files.configFilepath).keys()].some(
    (section) => (section === 'default' && profile === 'default') || profileName(section) === profile,
  );
  if (inCredentials || inConfig) return;
  const problem =
    `s3.profile: profile ${JSON.stringify(profile)} is defined in neither ${files.filepath} ([${profile}]) ` +
    `nor ${files.configFilepath} ([profile ${profile}]) (s3.credentials_path: ${config.s3.credentials_path})`;
  throw new AgentError('invalid-config', `Invalid configuration: ${problem}`, { problems: [problem] });
}

/**
 * The credentials: the named `s3.profile` from the shared files in `s3.credentials_path` and nothing else, or the
 * SDK's default chain (environment, shared files, instance role) when no profile is named. The files are re-read
 * by every new provider (`ignoreCache`), which is how a rebuilt destination picks up a changed credentials file.
 * @throws {AgentError} `invalid-config` when the named profile does not exist (see {@link checkProfile}).
 */
export function credentialsFor(config: AgentConfig): CredentialsProvider {
  checkProfile(config);
  const files = { ...sharedFiles(config), ignoreCache: true };
  return config.s3.profile === undefined
    ? fromNodeProviderChain(files)
    : fromIni({ ...files, profile: config.s3.profile });
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

/**
 * The CAs to trust instead of Node's own, from `s3.ca_bundle`, `AWS_CA_BUNDLE` or the profile's `ca_bundle` (as
 * config.ts resolved them): what the AWS CLI does with the same settings (the bundle replaces the default store).
 * The SDK for JavaScript v3 reads none of them itself.
 * @throws {AgentError} `invalid-config` when the bundle cannot be read.
 */
function caBundle(config: AgentConfig): { httpsAgent: { ca: string } } | Record<string, never> {
  const path = config.s3.ca_bundle;
  if (path === undefined) return {};
  try {
    return { httpsAgent: { ca: readFileSync(path, 'utf8') } };
  } catch (error) {
    const problem = `s3.ca_bundle: the CA bundle ${path} (from s3.ca_bundle, AWS_CA_BUNDLE or the profile's ca_bundle) cannot be read: ${(error as Error).message}`;
    throw new AgentError('invalid-config', `Invalid configuration: ${problem}`, {
      problems: [problem],
      cause: error,
    });
  }
}

function common(config: AgentConfig, options: AwsClientOptions) {
  return {
    region: config.s3.region,
    credentials: options.credentials ?? credentialsFor(config),
    maxAttempts: options.maxAttempts ?? DAEMON_MAX_ATTEMPTS,
    requestHandler: { ...networkTimeouts(config), ...caBundle(config) },
  };
}

/**
 * The S3 client's settings for this config: endpoint (`s3.endpoint`, else the profile's `endpoint_url`), path
 * style, checksum mode and CA bundle included.
 */
export function s3ClientConfig(config: AgentConfig, options: AwsClientOptions = {}): S3ClientConfig {
  const checksums = config.s3.checksum_mode === 'when_required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED';
  return {
    ...common(config, options),
    ...(config.s3.endpoint === undefined ? {} : { endpoint: config.s3.endpoint }),
    forcePathStyle: config.s3.force_path_style,
    requestChecksumCalculation: checksums,
    responseChecksumValidation: checksums,
  };
}

/**
 * An S3 client as the config describes it.
 * @throws {AgentError} `invalid-config` when the named profile does not exist.
 */
export function s3ClientFor(config: AgentConfig, options: AwsClientOptions = {}): S3Client {
  return new S3Client(s3ClientConfig(config, options));
}

// The CloudWatch and STS clients' modules are loaded when first asked for: a daemon without CloudWatch, and every
// command but the few that use them, start without them (each is a few hundred milliseconds of CPU to load).

/**
 * A CloudWatch client in the bucket's region. Its endpoint is AWS's unless `AWS_ENDPOINT_URL_CLOUDWATCH` (the
 * SDK's own setting) points elsewhere.
 * @throws {AgentError} `invalid-config` when the named profile does not exist.
 */
export async function cloudWatchClientFor(
  config: AgentConfig,
  options: AwsClientOptions = {},
): Promise<CloudWatchClient> {
  const settings = common(config, options);
  const { CloudWatchClient } = await import('@aws-sdk/client-cloudwatch');
  return new CloudWatchClient(settings);
}

/**
 * An STS client in the bucket's region (`AWS_ENDPOINT_URL_STS` overrides its endpoint).
 * @throws {AgentError} `invalid-config` when the named profile does not exist.
 */
export async function stsClientFor(config: AgentConfig, options: AwsClientOptions = {}): Promise<STSClient> {
  const settings = common(config, options);
  const { STSClient } = await import('@aws-sdk/client-sts');
  return new STSClient(settings);
}
