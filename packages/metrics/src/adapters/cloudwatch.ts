import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { toDatum } from '../batches.js';
import type { MetricPoint } from '../points.js';
import { cloudWatchSdk } from './sdk.js';

/** Sends one request's worth of points (already split to the API's limits). */
export async function putPoints(
  client: CloudWatchClient,
  request: { namespace: string; vehicleId: string; points: readonly MetricPoint[] },
  signal: AbortSignal,
): Promise<void> {
  const { PutMetricDataCommand } = await cloudWatchSdk();
  await client.send(
    new PutMetricDataCommand({
      Namespace: request.namespace,
      MetricData: request.points.map((point) => toDatum(point, request.vehicleId)),
    }),
    { abortSignal: signal },
  );
}
