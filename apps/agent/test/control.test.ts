import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ControlRequestError,
  ControlServer,
  ControlUnavailableError,
  controlRequest,
} from '../src/control/index.js';
import { until } from './helpers.js';

let dir: string;
let socket: string;
let server: ControlServer;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tvm-control-'));
  socket = join(dir, 'control.sock');
  server = new ControlServer();
});
afterEach(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the control channel', () => {
  it('routes by method and path, passes parameters, the query and the JSON body', async () => {
    server
      .route('POST', '/v1/things/:id', ({ body, params, query }) => ({
        status: 201,
        body: { id: params['id'], body, wait: query.get('wait') },
      }))
      .route('GET', '/v1/things', () => ({ body: ['a'] }));
    await server.listen(socket);
    expect((await stat(socket)).mode & 0o777).toBe(0o660);

    expect(await controlRequest(socket, 'POST', '/v1/things/a%20b?wait=1', { n: 1 })).toEqual({
      status: 201,
      body: { id: 'a b', body: { n: 1 }, wait: '1' },
    });
    expect(await controlRequest(socket, 'GET', '/v1/things')).toEqual({ status: 200, body: ['a'] });
    expect(await controlRequest(socket, 'GET', '/v1/things/a')).toEqual({
      status: 404,
      body: { error: 'No route GET /v1/things/a' },
    });
  });

  it('answers a refused request with its status and message, a failed handler with 500', async () => {
    server
      .route('POST', '/v1/refuse', () => {
        throw new ControlRequestError(422, 'rate must be a bandwidth');
      })
      .route('POST', '/v1/crash', () => Promise.reject(new Error('boom')));
    await server.listen(socket);
    expect(await controlRequest(socket, 'POST', '/v1/refuse', {})).toEqual({
      status: 422,
      body: { error: 'rate must be a bandwidth' },
    });
    expect(await controlRequest(socket, 'POST', '/v1/crash')).toEqual({
      status: 500,
      body: { error: 'boom' },
    });
  });

  it('tells a command that no agent runs', async () => {
    await expect(controlRequest(socket, 'GET', '/v1/agent')).rejects.toThrow(ControlUnavailableError);
    await expect(controlRequest(socket, 'GET', '/v1/agent')).rejects.toThrow(
      `The agent is not running (nothing answers on its control socket ${socket})`,
    );
  });

  it('takes over the socket a killed daemon left, never a live one nor a file that is not a socket', async () => {
    const child = spawn(process.execPath, [
      '-e',
      `require('node:net').createServer().listen(${JSON.stringify(socket)}, () => console.log('up'))`,
    ]);
    await new Promise((resolve) => child.stdout.once('data', resolve));
    await expect(server.listen(socket)).rejects.toThrow(
      `Another process answers on the control socket ${socket}`,
    );
    child.kill('SIGKILL');
    await until(() => child.exitCode !== null || child.signalCode !== null);
    expect((await stat(socket)).isSocket()).toBe(true);

    server.route('GET', '/v1/agent', () => ({ body: 'me' }));
    await server.listen(socket);
    expect((await controlRequest(socket, 'GET', '/v1/agent')).body).toBe('me');
    await server.close();
    await expect(stat(socket)).rejects.toThrow(/ENOENT/);

    await writeFile(socket, 'queue data');
    await expect(new ControlServer().listen(socket)).rejects.toThrow(
      `${socket} exists and is not a socket; refusing to replace it`,
    );
  });
});
