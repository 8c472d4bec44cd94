import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { cloudWatchSdk } from './sdk.js';

/** The body of the dashboard `name`, or undefined when there is none. */
export async function getDashboardBody(
  client: CloudWatchClient,
  name: string,
  signal: AbortSignal | undefined,
): Promise<string | undefined> {
  const { GetDashboardCommand } = await cloudWatchSdk();
  try {
    const response = await client.send(
      new GetDashboardCommand({ DashboardName: name }),
      signal === undefined ? {} : { abortSignal: signal },
    );
    return response.DashboardBody ?? '';
  } catch (error) {
    // The SDK names it after the modelled shape (DashboardNotFoundError); the wire code is ResourceNotFound.
    const name = (error as { name?: unknown }).name;
    if (name === 'DashboardNotFoundError' || name === 'ResourceNotFound') return undefined;
    throw error;
  }
}

/** Creates or replaces the dashboard; resolves to CloudWatch's validation messages (warnings, not errors). */
export async function putDashboard(
  client: CloudWatchClient,
  name: string,
  body: string,
  signal: AbortSignal | undefined,
): Promise<string[]> {
  const { PutDashboardCommand } = await cloudWatchSdk();
  const response = await client.send(
    new PutDashboardCommand({ DashboardName: name, DashboardBody: body }),
    signal === undefined ? {} : { abortSignal: signal },
  );
  return (response.DashboardValidationMessages ?? []).map((m) => `${m.DataPath ?? ''}: ${m.Message ?? ''}`);
}
