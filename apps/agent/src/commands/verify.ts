import { randomUUID } from 'node:crypto';
import { PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { classify, type Classification } from '@tvm/error-classification';
import { DEFAULT_NAMESPACE, VEHICLE_DIMENSION } from '@tvm/metrics';
import { objectFields } from '@tvm/s3-uploader';
import { objectSettingsOf, objectTags } from '../object-governance.js';
import type { AgentConfig } from '../config.js';
import {
  cloudWatchClientFor,
  COMMAND_MAX_ATTEMPTS,
  credentialsFor,
  s3ClientFor,
  stsClientFor,
} from '../adapters/aws-clients.js';
import { loadAwsCommandConfig } from './aws-config.js';
import { withCommandRetry, type CommandRetryOptions } from './retry.js';
import { EXIT, parseCommandArgs, printJson, processIo, type CommandIo } from './shared.js';

const USAGE = `Usage: tvm-upload verify [--config <path>] [--json] [--timeout <seconds>]
Checks AWS access exactly as the agent will use it, from its config: the credentials resolve for the profile,
sts get-caller-identity, the bucket is reachable, a test object can be written under {vehicle_id}/test/ and
removed, CloudWatch PutMetricData is allowed. Exit code = number of failed checks.
Temporary errors (throttling, 503, a dropped connection) are retried 3 times (1 s, 2 s, 4 s); others fail at once.
Endpoints: s3.endpoint (else the profile's endpoint_url); AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL_CLOUDWATCH.
CAs: s3.ca_bundle, else AWS_CA_BUNDLE, else the profile's ca_bundle.
`;

/** One check's outcome. `warn` and `skip` do not count as failures. */
export interface CheckResult {
  name: 'credentials' | 'sts' | 'bucket' | 'write' | 'remove' | 'cloudwatch';
  status: 'pass' | 'fail' | 'warn' | 'skip';
  detail: string;
  /** The classified error of a failed check. */
  error?: Pick<Classification, 'kind' | 'category' | 'code' | 'httpStatus' | 'message'>;
}

/**
 * `tvm-upload verify`: exit code = number of failed checks (0 = all good), 1 for an invalid config, 2 for usage.
 * `retry` sets the schedule of the retries of temporary errors (tests make it milliseconds).
 */
export async function verifyCommand(
  args: string[],
  io: CommandIo = processIo,
  retry: CommandRetryOptions = {},
): Promise<number> {
  const parsed = parseCommandArgs(args, { timeout: { type: 'string', default: '20' } }, USAGE, io);
  if ('exit' in parsed) return parsed.exit;
  const timeoutMs = Number(parsed.values.timeout) * 1000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    io.stderr(
      `--timeout must be a number of seconds > 0, got ${JSON.stringify(parsed.values.timeout)}\n${USAGE}`,
    );
    return EXIT.usage;
  }
  const config = await loadAwsCommandConfig(parsed.values.config, io);
  if (!config) return EXIT.failure;
  const json = parsed.values.json;
  if (!json) {
    const profile =
      config.s3.profile === undefined ? 'default credential chain' : `profile ${config.s3.profile}`;
    const endpoint = config.s3.endpoint === undefined ? '' : `, endpoint ${config.s3.endpoint}`;
    io.stdout(
      `Checking AWS access for ${config.vehicle_id} (bucket ${config.s3.bucket}, region ${config.s3.region}, ${profile}${endpoint})\n`,
    );
  }
  const results = await runChecks(
    config,
    timeoutMs,
    (result) => {
      if (!json) io.stdout(`${renderCheck(result)}\n`);
    },
    { io, ...retry },
  );
  const failures = results.filter((r) => r.status === 'fail').length;
  if (json)
    printJson(io, { vehicleId: config.vehicle_id, bucket: config.s3.bucket, failures, checks: results });
  else io.stdout(failures === 0 ? 'All checks passed.\n' : `${failures} check(s) failed.\n`);
  return failures;
}

function renderCheck(r: CheckResult): string {
  return `[${r.status.toUpperCase()}] ${r.name}: ${r.detail}`;
}

function failure(name: CheckResult['name'], what: string, error: unknown): CheckResult {
  const c = classify(error);
  return {
    name,
    status: 'fail',
    detail: `${what}: ${c.message} (${c.category}, ${c.kind})`,
    error: {
      kind: c.kind,
      category: c.category,
      message: c.message,
      ...(c.code === undefined ? {} : { code: c.code }),
      ...(c.httpStatus === undefined ? {} : { httpStatus: c.httpStatus }),
    },
  };
}

/**
 * Runs every check in order, reporting each as it finishes (a long check shows where it is). Each AWS call retries
 * temporary errors ({@link withCommandRetry}, its notices to `retry.io`'s stderr); `timeoutMs` bounds each attempt.
 */
export async function runChecks(
  config: AgentConfig,
  timeoutMs: number,
  onResult: (result: CheckResult) => void = () => {},
  retry: CommandRetryOptions & { io?: CommandIo } = {},
): Promise<CheckResult[]> {
  const { io = processIo, ...schedule } = retry;
  const attempt = <T>(what: string, call: () => Promise<T>) => withCommandRetry(what, call, io, schedule);
  const results: CheckResult[] = [];
  const report = (r: CheckResult) => {
    results.push(r);
    onResult(r);
  };
  const signal = () => AbortSignal.timeout(timeoutMs);
  const credentials = credentialsFor(config);
  const options = { credentials, maxAttempts: COMMAND_MAX_ATTEMPTS };
  const s3 = s3ClientFor(config, options);
  const profile = config.s3.profile === undefined ? 'the default chain' : `profile ${config.s3.profile}`;
  try {
    try {
      const identity = await attempt('credentials', () => credentials());
      report({
        name: 'credentials',
        status: 'pass',
        detail: `resolved from ${profile} (access key ****${identity.accessKeyId.slice(-4)})`,
      });
    } catch (error) {
      report(
        failure(
          'credentials',
          `cannot resolve credentials from ${profile} in ${config.s3.credentials_path}`,
          error,
        ),
      );
    }

    if (config.s3.endpoint !== undefined && process.env['AWS_ENDPOINT_URL_STS'] === undefined) {
      // A custom S3 endpoint (a local or S3-compatible store) has no STS beside it; asking AWS would leave loopback.
      report({ name: 'sts', status: 'skip', detail: 's3.endpoint is set and AWS_ENDPOINT_URL_STS is not' });
    } else {
      const sts = await stsClientFor(config, options);
      try {
        const id = await attempt('sts', () =>
          sts.send(new GetCallerIdentityCommand({}), { abortSignal: signal() }),
        );
        report({ name: 'sts', status: 'pass', detail: `${id.Arn ?? '?'} (account ${id.Account ?? '?'})` });
      } catch (error) {
        report(failure('sts', 'sts get-caller-identity failed', error));
      } finally {
        sts.destroy();
      }
    }

    try {
      await attempt('bucket', () =>
        s3.send(new HeadBucketCommand({ Bucket: config.s3.bucket }), { abortSignal: signal() }),
      );
      report({ name: 'bucket', status: 'pass', detail: `${config.s3.bucket} is reachable` });
    } catch (error) {
      report(failure('bucket', `bucket ${config.s3.bucket}`, error));
    }

    const key = `${config.vehicle_id}/test/tvm-upload-verify-${new Date().toISOString().replace(/[:.]/g, '-')}-${randomUUID().slice(0, 8)}.txt`;
    const body = Buffer.from(`tvm-upload verify ${config.vehicle_id}\n`);
    const governance = objectFields(objectSettingsOf(config), {
      metadata: {},
      tags: objectTags(config, 'verify'),
    });
    const stored = describeGovernance(governance);
    let written = false;
    try {
      await attempt('write', () =>
        // With the daemon's storage class, encryption and tags: a policy lacking s3:PutObjectTagging or the KMS
        // key's kms:GenerateDataKey fails here as the daemon's uploads would.
        s3.send(new PutObjectCommand({ Bucket: config.s3.bucket, Key: key, Body: body, ...governance }), {
          abortSignal: signal(),
        }),
      );
      written = true;
      // The body is read inside the attempt: a connection dropped mid-body is retried like one dropped before.
      const bytes = await attempt('read back', async () => {
        const got = await s3.send(new GetObjectCommand({ Bucket: config.s3.bucket, Key: key }), {
          abortSignal: signal(),
        });
        return Buffer.from((await got.Body?.transformToByteArray()) ?? []);
      });
      if (bytes.equals(body))
        report({
          name: 'write',
          status: 'pass',
          detail: `wrote and read back s3://${config.s3.bucket}/${key}${stored}`,
        });
      else {
        report({
          name: 'write',
          status: 'fail',
          detail: `s3://${config.s3.bucket}/${key} reads back ${bytes.length} bytes instead of ${body.length} (try s3.checksum_mode: when_required)`,
        });
      }
    } catch (error) {
      report(
        failure(
          'write',
          written
            ? `read back s3://${config.s3.bucket}/${key}`
            : `write s3://${config.s3.bucket}/${key}${stored}`,
          error,
        ),
      );
    }
    if (!written) {
      report({ name: 'remove', status: 'skip', detail: 'nothing was written' });
    } else {
      try {
        await attempt('remove', () =>
          s3.send(new DeleteObjectCommand({ Bucket: config.s3.bucket, Key: key }), {
            abortSignal: signal(),
          }),
        );
        report({ name: 'remove', status: 'pass', detail: `removed the test object` });
      } catch (error) {
        const c = classify(error);
        // The agent never deletes objects: its IAM policy need not allow s3:DeleteObject.
        if (c.category === 'access-denied') {
          report({
            name: 'remove',
            status: 'warn',
            detail: `s3:DeleteObject is not allowed (the agent does not need it); remove s3://${config.s3.bucket}/${key} by hand`,
          });
        } else report(failure('remove', `remove s3://${config.s3.bucket}/${key}`, error));
      }
    }

    if (!config.monitoring.cloudwatch_enabled) {
      report({ name: 'cloudwatch', status: 'skip', detail: 'monitoring.cloudwatch_enabled is false' });
    } else {
      const cloudwatch = await cloudWatchClientFor(config, options);
      try {
        // A zero FileCount: allowed by the same permission as real data and changes no sum or alarm.
        await attempt('cloudwatch', () =>
          cloudwatch.send(
            new PutMetricDataCommand({
              Namespace: DEFAULT_NAMESPACE,
              MetricData: [
                {
                  MetricName: 'FileCount',
                  Dimensions: [{ Name: VEHICLE_DIMENSION, Value: config.vehicle_id }],
                  Value: 0,
                  Unit: 'Count',
                },
              ],
            }),
            { abortSignal: signal() },
          ),
        );
        report({
          name: 'cloudwatch',
          status: 'pass',
          detail: `PutMetricData to ${DEFAULT_NAMESPACE} is allowed`,
        });
      } catch (error) {
        report(failure('cloudwatch', `PutMetricData to ${DEFAULT_NAMESPACE}`, error));
      } finally {
        cloudwatch.destroy();
      }
    }
  } finally {
    s3.destroy();
  }
  return results;
}

/** How the test object was stored, when the config asks for more than the bucket's defaults. */
function describeGovernance(fields: ReturnType<typeof objectFields>): string {
  const parts: string[] = [];
  if (fields.StorageClass !== undefined) parts.push(`storage class ${fields.StorageClass}`);
  if (fields.ServerSideEncryption !== undefined) {
    const key = fields.SSEKMSKeyId === undefined ? '' : ` key ${fields.SSEKMSKeyId}`;
    parts.push(`encryption ${fields.ServerSideEncryption}${key}`);
  }
  if (fields.Tagging !== undefined) parts.push(`tags ${fields.Tagging}`);
  return parts.length === 0 ? '' : ` (${parts.join(', ')})`;
}
