import type {
  CloudWatchClient,
  ComparisonOperator,
  MetricAlarm,
  Statistic,
} from '@aws-sdk/client-cloudwatch';
import { classify } from '@tvm/error-classification';
import { describeAlarms, putAlarm, type AlarmDefinition } from './adapters/alarms.js';
import { DEFAULT_NAMESPACE, VEHICLE_DIMENSION, type MetricName } from './catalog.js';
import { invalidOption, MetricsError } from './errors.js';

/** The runbook's alert rules, by the name part between `TVM-` and the vehicle id. */
export type AlarmRule = 'HighFailureRate' | 'NoUploads' | 'DiskUsageHigh' | 'LowUpload' | 'UploadsPaused';

/** How long uploads may stay paused before the UploadsPaused alarm fires, in seconds (one hour). */
export const UPLOADS_PAUSED_ALARM_SECONDS = 3_600;

/** One alert rule as a plain value (what the README's alarm table lists). */
export interface AlarmRuleDefinition {
  rule: AlarmRule;
  metric: MetricName;
  statistic: Statistic;
  comparison: ComparisonOperator;
  threshold: number;
  /** Seconds. */
  period: number;
  evaluationPeriods: number;
  treatMissingData: 'breaching' | 'notBreaching' | 'missing';
  description: string;
}

/**
 * The runbook's thresholds ("CloudWatch Metrics" table) plus the old daemon's LowUpload alarm, which it defined
 * but never created. Counters are only sent for intervals where something happened, so "no FailureCount datum"
 * means "no failure" (notBreaching) while "no FileCount datum" means "no upload" (breaching: a silent vehicle alarms).
 */
export const ALARM_RULES: readonly AlarmRuleDefinition[] = [
  {
    rule: 'HighFailureRate',
    metric: 'FailureCount',
    statistic: 'Sum',
    comparison: 'GreaterThanThreshold',
    threshold: 5,
    period: 3_600,
    evaluationPeriods: 1,
    treatMissingData: 'notBreaching',
    description: 'More than 5 failed upload attempts in an hour (runbook: FailureCount > 5 per hour).',
  },
  {
    rule: 'NoUploads',
    metric: 'FileCount',
    statistic: 'Sum',
    comparison: 'LessThanThreshold',
    threshold: 1,
    period: 86_400,
    evaluationPeriods: 1,
    treatMissingData: 'breaching',
    description: 'No file uploaded in a day, or the vehicle sent nothing (runbook: FileCount < 1 per day).',
  },
  {
    rule: 'DiskUsageHigh',
    metric: 'DiskUsagePercent',
    statistic: 'Maximum',
    comparison: 'GreaterThanThreshold',
    threshold: 90,
    period: 300,
    evaluationPeriods: 1,
    treatMissingData: 'missing',
    description: 'A log filesystem is more than 90% full (runbook: DiskUsagePercent > 90%).',
  },
  {
    rule: 'LowUpload',
    metric: 'BytesUploaded',
    statistic: 'Sum',
    comparison: 'LessThanThreshold',
    threshold: 100 * 1024 * 1024,
    period: 86_400,
    evaluationPeriods: 3,
    treatMissingData: 'breaching',
    description: 'Less than 100 MB uploaded per day for 3 days (the original TVM-LowUpload alarm).',
  },
  {
    rule: 'UploadsPaused',
    metric: 'UploadsPaused',
    // Minimum 1 over a 5-minute period = every sample of it said "paused"; 12 such periods in a row = an hour.
    statistic: 'Minimum',
    comparison: 'GreaterThanOrEqualToThreshold',
    threshold: 1,
    period: 300,
    evaluationPeriods: UPLOADS_PAUSED_ALARM_SECONDS / 300,
    // A vehicle switched off sends nothing: that is NoUploads' business, not a pause.
    treatMissingData: 'notBreaching',
    description:
      'Uploads paused (outage or destination error) for an hour: every UploadsPaused sample was 1 for 12 periods of 5 minutes.',
  },
];

/** Options of {@link applyAlarms}. */
export interface ApplyAlarmsOptions {
  /** The CloudWatch client (needs cloudwatch:DescribeAlarms and cloudwatch:PutMetricAlarm). */
  client: CloudWatchClient;
  vehicleId: string;
  /** @default 'TVM/Upload' */
  namespace?: string;
  /** SNS topic notified when an alarm fires (its AlarmActions). @default no action */
  snsTopicArn?: string;
  signal?: AbortSignal;
}

/** What {@link applyAlarms} did, by alarm name. */
export interface ApplyAlarmsResult {
  created: string[];
  updated: string[];
  /** Already exactly as wanted: not written again. */
  unchanged: string[];
}

/** The alarm name of a rule for a vehicle: `TVM-<Rule>-<vehicle_id>`. */
export function alarmName(rule: AlarmRule, vehicleId: string): string {
  return `TVM-${rule}-${vehicleId}`;
}

/**
 * Creates or updates the vehicle's alarms ({@link ALARM_RULES}). Idempotent: reads the alarms first and writes
 * only those that are missing or differ, so running it at every start costs one DescribeAlarms call.
 * @throws {TypeError} when an option is invalid
 * @throws {MetricsError} `alarm-failed` when CloudWatch refuses a call (the cause is classified)
 */
export async function applyAlarms(options: ApplyAlarmsOptions): Promise<ApplyAlarmsResult> {
  const { client, vehicleId, snsTopicArn, signal } = options;
  const namespace = options.namespace ?? DEFAULT_NAMESPACE;
  if (
    typeof vehicleId !== 'string' ||
    vehicleId.length === 0 ||
    alarmName('HighFailureRate', vehicleId).length > 255
  ) {
    invalidOption('vehicleId', 'a non-empty string short enough for a 255-character alarm name', vehicleId);
  }
  if (snsTopicArn !== undefined && !/^arn:aws[a-z-]*:sns:/.test(snsTopicArn)) {
    invalidOption('snsTopicArn', 'an SNS topic ARN', snsTopicArn);
  }
  const wanted = ALARM_RULES.map((rule) => definitionFor(rule, vehicleId, namespace, snsTopicArn));
  const names = wanted.map((alarm) => alarm.AlarmName);
  let existing: MetricAlarm[];
  try {
    existing = await describeAlarms(client, names, signal);
  } catch (error) {
    throw alarmError(error, `DescribeAlarms failed for ${names.join(', ')}`);
  }
  const result: ApplyAlarmsResult = { created: [], updated: [], unchanged: [] };
  for (const alarm of wanted) {
    const current = existing.find((candidate) => candidate.AlarmName === alarm.AlarmName);
    if (current && sameAlarm(current, alarm)) {
      result.unchanged.push(alarm.AlarmName);
      continue;
    }
    try {
      await putAlarm(client, alarm, signal);
    } catch (error) {
      throw alarmError(error, `PutMetricAlarm failed for ${alarm.AlarmName}`);
    }
    (current ? result.updated : result.created).push(alarm.AlarmName);
  }
  return result;
}

function definitionFor(
  rule: AlarmRuleDefinition,
  vehicleId: string,
  namespace: string,
  snsTopicArn: string | undefined,
): AlarmDefinition {
  return {
    AlarmName: alarmName(rule.rule, vehicleId),
    AlarmDescription: rule.description,
    Namespace: namespace,
    MetricName: rule.metric,
    Dimensions: [{ Name: VEHICLE_DIMENSION, Value: vehicleId }],
    Statistic: rule.statistic,
    Period: rule.period,
    EvaluationPeriods: rule.evaluationPeriods,
    DatapointsToAlarm: rule.evaluationPeriods,
    Threshold: rule.threshold,
    ComparisonOperator: rule.comparison,
    TreatMissingData: rule.treatMissingData,
    ActionsEnabled: true,
    AlarmActions: snsTopicArn === undefined ? [] : [snsTopicArn],
  };
}

/** Compares the fields we set; CloudWatch adds its own (ARN, state, timestamps) which do not matter here. */
function sameAlarm(current: MetricAlarm, wanted: AlarmDefinition): boolean {
  const dims = (list: MetricAlarm['Dimensions']): string =>
    JSON.stringify((list ?? []).map((d) => [d.Name, d.Value]).sort());
  return (
    current.AlarmDescription === wanted.AlarmDescription &&
    current.Namespace === wanted.Namespace &&
    current.MetricName === wanted.MetricName &&
    dims(current.Dimensions) === dims(wanted.Dimensions) &&
    current.Statistic === wanted.Statistic &&
    current.Period === wanted.Period &&
    current.EvaluationPeriods === wanted.EvaluationPeriods &&
    (current.DatapointsToAlarm ?? current.EvaluationPeriods) === wanted.DatapointsToAlarm &&
    current.Threshold === wanted.Threshold &&
    current.ComparisonOperator === wanted.ComparisonOperator &&
    (current.TreatMissingData ?? 'missing') === wanted.TreatMissingData &&
    (current.ActionsEnabled ?? true) === wanted.ActionsEnabled &&
    JSON.stringify([...(current.AlarmActions ?? [])].sort()) ===
      JSON.stringify([...wanted.AlarmActions].sort())
  );
}

function alarmError(error: unknown, what: string): MetricsError {
  const classification = classify(error);
  return new MetricsError('alarm-failed', `${what}: ${classification.message}`, {
    cause: error,
    classification,
  });
}
