import type {
  CloudWatchClient,
  ComparisonOperator,
  Dimension,
  MetricAlarm,
  Statistic,
} from '@aws-sdk/client-cloudwatch';
import { cloudWatchSdk } from './sdk.js';

/** The PutMetricAlarm fields this package sets. */
export interface AlarmDefinition {
  AlarmName: string;
  AlarmDescription: string;
  Namespace: string;
  MetricName: string;
  Dimensions: Dimension[];
  Statistic: Statistic;
  Period: number;
  EvaluationPeriods: number;
  DatapointsToAlarm: number;
  Threshold: number;
  ComparisonOperator: ComparisonOperator;
  TreatMissingData: string;
  ActionsEnabled: boolean;
  AlarmActions: string[];
}

/** The metric alarms among `names` that exist (DescribeAlarms accepts up to 100 names per call). */
export async function describeAlarms(
  client: CloudWatchClient,
  names: readonly string[],
  signal: AbortSignal | undefined,
): Promise<MetricAlarm[]> {
  const { DescribeAlarmsCommand } = await cloudWatchSdk();
  const alarms: MetricAlarm[] = [];
  let nextToken: string | undefined;
  do {
    const response = await client.send(
      new DescribeAlarmsCommand({
        AlarmNames: [...names],
        AlarmTypes: ['MetricAlarm'],
        ...(nextToken === undefined ? {} : { NextToken: nextToken }),
      }),
      signal === undefined ? {} : { abortSignal: signal },
    );
    alarms.push(...(response.MetricAlarms ?? []));
    nextToken = response.NextToken;
  } while (nextToken !== undefined);
  return alarms;
}

/** Creates or replaces one alarm (PutMetricAlarm overwrites an alarm of the same name). */
export async function putAlarm(
  client: CloudWatchClient,
  alarm: AlarmDefinition,
  signal: AbortSignal | undefined,
): Promise<void> {
  const { PutMetricAlarmCommand } = await cloudWatchSdk();
  await client.send(new PutMetricAlarmCommand(alarm), signal === undefined ? {} : { abortSignal: signal });
}
