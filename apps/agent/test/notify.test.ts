import { describe, expect, it } from 'vitest';
import { createNotifier, watchdogInterval } from '../src/notify.js';

describe('watchdogInterval', () => {
  it('is half of WATCHDOG_USEC, and only for the pid WATCHDOG_PID names', () => {
    expect(watchdogInterval({ WATCHDOG_USEC: '20000000' }, 7)).toBe(10_000);
    expect(watchdogInterval({ WATCHDOG_USEC: '20000000', WATCHDOG_PID: '7' }, 7)).toBe(10_000);
    expect(watchdogInterval({ WATCHDOG_USEC: '20000000', WATCHDOG_PID: '8' }, 7)).toBeUndefined();
    expect(watchdogInterval({}, 7)).toBeUndefined();
    expect(watchdogInterval({ WATCHDOG_USEC: 'x' }, 7)).toBeUndefined();
  });
});

describe('createNotifier', () => {
  it('does nothing without NOTIFY_SOCKET', async () => {
    const calls: string[][] = [];
    const notifier = createNotifier({
      env: { WATCHDOG_USEC: '1000000' },
      run: async (_c, args) => void calls.push(args),
    });
    await notifier.send({ READY: '1' });
    expect(notifier.enabled).toBe(false);
    expect(notifier.watchdogIntervalMs).toBeUndefined();
    expect(calls).toEqual([]);
  });

  it('runs systemd-notify with one assignment per argument, one message at a time, in order', async () => {
    const calls: string[][] = [];
    let running = 0;
    const notifier = createNotifier({
      env: { NOTIFY_SOCKET: '/run/systemd/notify' },
      run: async (command, args) => {
        expect(command).toBe('systemd-notify');
        expect(running).toBe(0);
        running += 1;
        await new Promise((resolve) => setTimeout(resolve, 5));
        calls.push(args);
        running -= 1;
      },
    });
    await Promise.all([
      notifier.send({ READY: '1', STATUS: '0 queued,\nonline' }),
      notifier.send({ WATCHDOG: '1' }),
    ]);
    expect(calls).toEqual([['READY=1', 'STATUS=0 queued, online'], ['WATCHDOG=1']]);
  });

  it('warns once when systemd-notify fails, and keeps sending', async () => {
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, warn: (m: string) => warnings.push(m), error() {} };
    let fail = true;
    const sent: string[][] = [];
    const notifier = createNotifier({
      env: { NOTIFY_SOCKET: '@x' },
      logger,
      run: async (_c, args) => {
        if (fail) throw new Error('boom');
        sent.push(args);
      },
    });
    await notifier.send({ WATCHDOG: '1' });
    await notifier.send({ WATCHDOG: '1' });
    fail = false;
    await notifier.send({ STATUS: 'ok' });
    expect(warnings).toEqual(['Telling systemd the service state failed: boom']);
    expect(sent).toEqual([['STATUS=ok']]);
  });
});
