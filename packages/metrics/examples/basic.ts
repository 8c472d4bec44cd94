import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { applyAlarms, createMetrics } from '@tvm/metrics';

// The agent builds the client (region, profile); CLOUDWATCH_ENDPOINT points it at a test endpoint instead of AWS.
const endpoint = process.env['CLOUDWATCH_ENDPOINT'];
const client = new CloudWatchClient({ region: 'cn-north-1', ...(endpoint ? { endpoint } : {}) });

const metrics = createMetrics({
  client,
  vehicleId: 'vehicle-CN-001',
  bufferFile: join(await mkdtemp(join(tmpdir(), 'tvm-metrics-')), 'metrics-buffer.json'),
});
metrics.serviceStartup();
metrics.start(); // returns at once; publishes every 5 minutes in the background

metrics.fileUploaded(104_857_600);
metrics.uploadFailed('network');
metrics.retryScheduled();
metrics.diskUsage(72.5, '/home');
metrics.queueDepth(3);

const { sent, buffered } = await metrics.publishNow();
console.log(`sent ${sent} points, ${buffered} buffered`);
// sent 7 points, 0 buffered

const { counters } = metrics.snapshot();
console.log(`files ${counters.FileCount}, failures ${counters.FailureCount}`);
// files 1, failures 1

const alarms = await applyAlarms({ client, vehicleId: 'vehicle-CN-001' });
console.log(`alarms created: ${alarms.created.length}, unchanged: ${alarms.unchanged.length}`);
// alarms created: 5, unchanged: 0

await metrics.stop(); // final flush, bounded in time; what cannot be sent stays in the buffer file
client.destroy();
