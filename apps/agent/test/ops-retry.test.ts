import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  s3ErrorXml,
  startFakeCloudWatch,
  startLocalS3,
  type FakeCloudWatch,
  type LocalS3,
  type ScriptedResponse,
} from '@tvm/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alarmsCommand } from '../src/commands/alarms.js';
import type { CommandIo } from '../src/commands/shared.js';
import { verifyCommand } from '../src/commands/verify.js';
import { configDocument, makeWorkspace, writeConfig } from './helpers.js';

/** Milliseconds instead of 1 s, 2 s, 4 s: the retries are real p-retry sleeps. */
const FAST = { initialDelayMs: 1, maxDelayMs: 2 };

function captureIo(): CommandIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: (t) => out.push(t), stderr: (t) => err.push(t), isTty: false, now: Date.now };
}

/**
 * An HTTP front on 127.0.0.1 before a real server: request number n (1-based) is first shown to `before`, which
 * may answer it itself (a 503 S3 sends under load); otherwise it is forwarded.
 */
async function startFront(
  targetPort: number,
  before: (n: number, request: IncomingMessage) => Promise<ScriptedResponse | undefined>,
) {
  const seen: Array<{ method: string; status: number }> = [];
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      before(seen.length + 1, request).then(
        (answer) => {
          if (answer) {
            seen.push({ method: request.method ?? '', status: answer.status });
            response.writeHead(answer.status, { 'content-type': 'application/xml', ...answer.headers });
            response.end(request.method === 'HEAD' ? '' : (answer.body ?? ''));
            return;
          }
          const upstream = httpRequest(
            {
              host: '127.0.0.1',
              port: targetPort,
              method: request.method,
              path: request.url,
              headers: request.headers,
            },
            (reply) => {
              seen.push({ method: request.method ?? '', status: reply.statusCode ?? 0 });
              response.writeHead(reply.statusCode ?? 502, reply.headers);
              reply.pipe(response);
            },
          );
          upstream.end(Buffer.concat(chunks));
        },
        (error: unknown) => response.destroy(error as Error),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const UNAVAILABLE: ScriptedResponse = {
  status: 503,
  body: s3ErrorXml('ServiceUnavailable', 'Please reduce your request rate.'),
};

describe('verifyCommand (retries with p-retry)', () => {
  let s3: LocalS3;
  beforeAll(async () => {
    s3 = await startLocalS3({ buckets: ['t01logs'] });
  });
  afterAll(() => s3.close());

  it('passes after two 503s, with one request per attempt and each retry announced', async () => {
    const front = await startFront(s3.port, async (n) => (n <= 2 ? UNAVAILABLE : undefined));
    try {
      const ws = await makeWorkspace();
      await writeConfig(ws, configDocument(ws, front.endpoint, 't01logs'));
      const io = captureIo();
      const code = await verifyCommand(['--config', ws.configFile, '--json'], io, FAST);
      expect(io.err.join('')).toBe(
        'bucket: HTTP 503: Service temporarily unavailable (service-unavailable); retry 1/3\n' +
          'bucket: HTTP 503: Service temporarily unavailable (service-unavailable); retry 2/3\n',
      );
      expect(code).toBe(0);
      // The SDK retries nothing itself (COMMAND_MAX_ATTEMPTS = 1): three HEADs, two refused, then the other checks.
      expect(front.seen.slice(0, 3)).toEqual([
        { method: 'HEAD', status: 503 },
        { method: 'HEAD', status: 503 },
        { method: 'HEAD', status: 200 },
      ]);
      const result = JSON.parse(io.out.join('')) as { checks: Array<{ name: string; status: string }> };
      expect(result.checks.find((c) => c.name === 'bucket')?.status).toBe('pass');
    } finally {
      await front.close();
    }
  });

  it('does not retry a permanent error', async () => {
    const front = await startFront(s3.port, async () => undefined);
    try {
      const ws = await makeWorkspace();
      await writeConfig(ws, configDocument(ws, front.endpoint, 'no-such-bucket'));
      const io = captureIo();
      const code = await verifyCommand(['--config', ws.configFile, '--json'], io, FAST);
      expect(code).toBe(2); // bucket and write
      expect(io.err.join('')).toBe('');
      expect(front.seen.filter((r) => r.method === 'HEAD')).toEqual([{ method: 'HEAD', status: 404 }]);
    } finally {
      await front.close();
    }
  });
});

describe('alarmsCommand (retries with p-retry)', () => {
  let cloudwatch: FakeCloudWatch;
  beforeAll(async () => {
    cloudwatch = await startFakeCloudWatch({ mode: 'unavailable' });
  });
  afterAll(() => cloudwatch.close());

  it('applies the alarms after two 503s from CloudWatch', async () => {
    // CloudWatch answers its own 503s (in its wire protocol) until the third request.
    const front = await startFront(cloudwatch.port, async (n) => {
      if (n === 3) await cloudwatch.setMode('up');
      return undefined;
    });
    const saved = process.env['AWS_ENDPOINT_URL_CLOUDWATCH'];
    process.env['AWS_ENDPOINT_URL_CLOUDWATCH'] = front.endpoint;
    try {
      const ws = await makeWorkspace();
      await writeConfig(ws, configDocument(ws, 'http://127.0.0.1:1', 't01logs'));
      const io = captureIo();
      const code = await alarmsCommand(['apply', '--config', ws.configFile, '--json'], io, FAST);
      expect(io.err.join('')).toMatch(
        /^alarms apply: .*\(service-unavailable\); retry 1\/3\nalarms apply: .*retry 2\/3\n$/,
      );
      expect(code).toBe(0);
      expect(front.seen.slice(0, 2).map((r) => r.status)).toEqual([503, 503]);
      const created = (JSON.parse(io.out.join('')) as { created: string[] }).created;
      expect(created.length).toBeGreaterThan(0);
      expect([...cloudwatch.alarms.keys()]).toEqual(expect.arrayContaining(created));
    } finally {
      if (saved === undefined) delete process.env['AWS_ENDPOINT_URL_CLOUDWATCH'];
      else process.env['AWS_ENDPOINT_URL_CLOUDWATCH'] = saved;
      await front.close();
    }
  });
});
