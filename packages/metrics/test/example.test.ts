import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FAKE_CLOUDWATCH_CREDENTIALS, runTypeScript, startFakeCloudWatch } from '@tvm/test-utils';
import { describe, expect, it } from 'vitest';

describe('examples/basic.ts', () => {
  it('publishes to CloudWatch, prints the snapshot and creates the alarms', async () => {
    const cloudwatch = await startFakeCloudWatch();
    const scratch = await mkdtemp(join(tmpdir(), 'tvm-metrics-example-'));
    try {
      const { stdout } = await runTypeScript(
        fileURLToPath(new URL('../examples/basic.ts', import.meta.url)),
        {
          env: {
            CLOUDWATCH_ENDPOINT: cloudwatch.endpoint,
            AWS_ACCESS_KEY_ID: FAKE_CLOUDWATCH_CREDENTIALS.accessKeyId,
            AWS_SECRET_ACCESS_KEY: FAKE_CLOUDWATCH_CREDENTIALS.secretAccessKey,
            AWS_PROFILE: '',
            TMPDIR: scratch, // the example's buffer directory lands here and is removed below
          },
        },
      );
      expect(stdout.trim().split('\n')).toEqual([
        'sent 7 points, 0 buffered',
        'files 1, failures 1',
        'alarms created: 5, unchanged: 0',
      ]);
      expect(cloudwatch.metricData().map((d) => d.MetricName)).toEqual([
        'FileCount',
        'BytesUploaded',
        'FailureCount',
        'RetryCount',
        'DiskUsagePercent',
        'QueueDepth',
        'ServiceStartup',
      ]);
      expect(cloudwatch.alarms.size).toBe(5);
    } finally {
      await cloudwatch.close();
      await rm(scratch, { recursive: true, force: true });
    }
  });
});

describe('README.md', () => {
  it('shows examples/basic.ts verbatim', async () => {
    const [readme, example] = await Promise.all(
      ['../README.md', '../examples/basic.ts'].map((file) =>
        readFile(fileURLToPath(new URL(file, import.meta.url)), 'utf8'),
      ),
    );
    expect(readme).toContain(`\`\`\`ts\n${example}\`\`\``);
  });
});
