import { PutObjectCommand } from '@aws-sdk/client-s3';
import { classify } from '@tvm/error-classification';
import { startFaultProxy, startLocalS3, type FaultProxy, type LocalS3 } from '@tvm/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDestination } from '../src/adapters/destination.js';
import { systemClock } from '../src/clock.js';
import { configDocument, makeWorkspace, writeConfig, type Workspace } from './helpers.js';

describe('createDestination', () => {
  let s3: LocalS3;
  let proxy: FaultProxy;
  let ws: Workspace;
  beforeAll(async () => {
    s3 = await startLocalS3({ buckets: ['t01logs'] });
    proxy = await startFaultProxy({ targetPort: s3.port });
    ws = await makeWorkspace();
  });
  afterAll(async () => {
    await proxy.close();
    await s3.close();
  });

  it('fails a request on a stalled link as a timeout instead of hanging it', async () => {
    const config = await writeConfig(
      ws,
      configDocument(ws, proxy.endpoint, 't01logs', { s3: { socket_timeout_seconds: 0.5 } }),
    );
    const destination = createDestination(config, systemClock);
    try {
      await proxy.setMode({ kind: 'stall' });
      const put = new PutObjectCommand({ Bucket: 't01logs', Key: 'k', Body: Buffer.from('x') });
      const error = await destination.client.send(put).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(classify(error)).toMatchObject({
        kind: 'temporary',
        category: 'timeout',
        scope: 'connectivity',
      });

      await proxy.setMode({ kind: 'pass' });
      await expect(destination.client.send(put)).resolves.toBeDefined();
    } finally {
      destination.close();
    }
  });
});
