import { startFakeCloudWatch, type FakeCloudWatch } from '@tvm/test-utils';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ALARM_RULES, MetricsError, alarmName, applyAlarms } from '../src/index.js';

let cloudwatch: FakeCloudWatch;
beforeEach(async () => {
  cloudwatch = await startFakeCloudWatch();
});
afterEach(async () => {
  await cloudwatch.close();
});

const TOPIC = 'arn:aws-cn:sns:cn-north-1:123456789012:tvm-alerts';
const vehicle = [{ Name: 'VehicleId', Value: 'vehicle-CN-001' }];

function putAlarmBodies(): Array<Record<string, unknown>> {
  return cloudwatch.requests.filter((r) => r.operation === 'PutMetricAlarm').map((r) => r.body);
}

describe('applyAlarms', () => {
  it('creates the runbook alarms with their thresholds, the vehicle dimension and the SNS action', async () => {
    const result = await applyAlarms({
      client: cloudwatch.client(),
      vehicleId: 'vehicle-CN-001',
      snsTopicArn: TOPIC,
    });
    expect(result).toEqual({
      created: [
        'TVM-HighFailureRate-vehicle-CN-001',
        'TVM-NoUploads-vehicle-CN-001',
        'TVM-DiskUsageHigh-vehicle-CN-001',
        'TVM-LowUpload-vehicle-CN-001',
        'TVM-UploadsPaused-vehicle-CN-001',
      ],
      updated: [],
      unchanged: [],
    });
    const common = {
      Namespace: 'TVM/Upload',
      Dimensions: vehicle,
      ActionsEnabled: true,
      AlarmActions: [TOPIC],
    };
    expect(putAlarmBodies()).toEqual([
      expect.objectContaining({
        ...common,
        AlarmName: 'TVM-HighFailureRate-vehicle-CN-001',
        MetricName: 'FailureCount',
        Statistic: 'Sum',
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: 5,
        Period: 3600,
        EvaluationPeriods: 1,
        TreatMissingData: 'notBreaching',
      }),
      expect.objectContaining({
        ...common,
        AlarmName: 'TVM-NoUploads-vehicle-CN-001',
        MetricName: 'FileCount',
        Statistic: 'Sum',
        ComparisonOperator: 'LessThanThreshold',
        Threshold: 1,
        Period: 86400,
        EvaluationPeriods: 1,
        TreatMissingData: 'breaching',
      }),
      expect.objectContaining({
        ...common,
        AlarmName: 'TVM-DiskUsageHigh-vehicle-CN-001',
        MetricName: 'DiskUsagePercent',
        Statistic: 'Maximum',
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: 90,
        Period: 300,
        EvaluationPeriods: 1,
      }),
      expect.objectContaining({
        ...common,
        AlarmName: 'TVM-LowUpload-vehicle-CN-001',
        MetricName: 'BytesUploaded',
        Statistic: 'Sum',
        ComparisonOperator: 'LessThanThreshold',
        Threshold: 104857600,
        Period: 86400,
        EvaluationPeriods: 3,
        DatapointsToAlarm: 3,
        TreatMissingData: 'breaching',
      }),
      expect.objectContaining({
        ...common,
        AlarmName: 'TVM-UploadsPaused-vehicle-CN-001',
        MetricName: 'UploadsPaused',
        // Paused at every sample of 12 five-minute periods in a row: paused for an hour.
        Statistic: 'Minimum',
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        Threshold: 1,
        Period: 300,
        EvaluationPeriods: 12,
        DatapointsToAlarm: 12,
        TreatMissingData: 'notBreaching',
      }),
    ]);
  });

  it('is idempotent: a second run reads the alarms and writes nothing', async () => {
    const client = cloudwatch.client();
    await applyAlarms({ client, vehicleId: 'vehicle-CN-001' });
    cloudwatch.clearRequests();
    const again = await applyAlarms({ client, vehicleId: 'vehicle-CN-001' });
    expect(again.unchanged).toHaveLength(5);
    expect(cloudwatch.requests.map((r) => r.operation)).toEqual(['DescribeAlarms']);
    expect(cloudwatch.alarms.size).toBe(5);
  });

  it('updates only the alarms that differ', async () => {
    const client = cloudwatch.client();
    await applyAlarms({ client, vehicleId: 'vehicle-CN-001' });
    const drifted = { ...cloudwatch.alarms.get('TVM-HighFailureRate-vehicle-CN-001'), Threshold: 50 };
    (cloudwatch.alarms as Map<string, Record<string, unknown>>).set(
      'TVM-HighFailureRate-vehicle-CN-001',
      drifted,
    );
    cloudwatch.clearRequests();
    const result = await applyAlarms({ client, vehicleId: 'vehicle-CN-001' });
    expect(result.updated).toEqual(['TVM-HighFailureRate-vehicle-CN-001']);
    expect(result.unchanged).toHaveLength(4);
    expect(cloudwatch.alarms.get('TVM-HighFailureRate-vehicle-CN-001')?.['Threshold']).toBe(5);

    const withTopic = await applyAlarms({ client, vehicleId: 'vehicle-CN-001', snsTopicArn: TOPIC });
    expect(withTopic.updated).toHaveLength(5);
  });

  it('throws MetricsError alarm-failed, classified access-denied, when IAM refuses', async () => {
    await cloudwatch.setMode('access-denied');
    const error = await applyAlarms({ client: cloudwatch.client(), vehicleId: 'v1' }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MetricsError);
    expect(error).toMatchObject({
      name: 'MetricsError',
      code: 'alarm-failed',
      classification: { kind: 'permanent', category: 'access-denied' },
    });
    expect((error as Error).message).toMatch(
      /^DescribeAlarms failed for TVM-HighFailureRate-v1, .*: AccessDenied: /,
    );
  });

  it('throws a TypeError for an invalid SNS topic ARN or vehicle id', async () => {
    const client = cloudwatch.client();
    await expect(applyAlarms({ client, vehicleId: 'v1', snsTopicArn: 'tvm-alerts' })).rejects.toThrow(
      new TypeError('Expected `snsTopicArn` to be an SNS topic ARN, got "tvm-alerts"'),
    );
    await expect(applyAlarms({ client, vehicleId: '' })).rejects.toThrow(TypeError);
    expect(cloudwatch.requests).toHaveLength(0);
  });

  it('names alarms TVM-<Rule>-<vehicle_id> for every rule', () => {
    expect(ALARM_RULES.map((rule) => alarmName(rule.rule, 'v9'))).toEqual([
      'TVM-HighFailureRate-v9',
      'TVM-NoUploads-v9',
      'TVM-DiskUsageHigh-v9',
      'TVM-LowUpload-v9',
      'TVM-UploadsPaused-v9',
    ]);
  });
});
