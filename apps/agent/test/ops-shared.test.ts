import { describe, expect, it } from 'vitest';
import { OPS_COMMANDS } from '../src/commands/index.js';
import {
  createProgress,
  formatBytes,
  formatDuration,
  table,
  type CommandIo,
} from '../src/commands/shared.js';

function capture(isTty: boolean): { io: CommandIo; out: () => string } {
  let text = '';
  return {
    io: { stdout: (t) => (text += t), stderr: (t) => (text += t), isTty, now: () => 0 },
    out: () => text,
  };
}

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1024, '1.0 KiB'],
    [48 * 1024 * 1024, '48.0 MiB'],
    [3.5 * 1024 ** 3, '3.5 GiB'],
  ])('formats %d bytes as %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0 s'],
    [59_000, '59 s'],
    [60_000, '1 min'],
    [3_600_000, '1 h 0 min'],
    [47 * 3_600_000, '47 h 0 min'],
    [50 * 3_600_000, '2 d 2 h'],
  ])('formats %d ms as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe('createProgress', () => {
  it('rewrites one line on a terminal', () => {
    const { io, out } = capture(true);
    const progress = createProgress(io, 'deleting', 3);
    progress.tick();
    progress.tick(2);
    progress.end();
    expect(out()).toBe('\rdeleting: 1/3\rdeleting: 3/3\n');
  });

  it('prints a plain line every `every` items and at the end otherwise', () => {
    const { io, out } = capture(false);
    const progress = createProgress(io, 'deleting', 250, 100);
    for (let i = 0; i < 250; i++) progress.tick();
    progress.end();
    expect(out()).toBe('deleting: 100/250\ndeleting: 200/250\ndeleting: 250/250\n');
  });
});

describe('table', () => {
  it('aligns columns and leaves the last one unpadded', () => {
    expect(
      table(
        ['A', 'LONG'],
        [
          ['xyz', 'p'],
          ['1', 'q'],
        ],
      ),
    ).toBe('A    LONG\nxyz  p\n1    q\n');
  });
});

describe('OPS_COMMANDS', () => {
  it('has the commands the issue lists', () => {
    expect(Object.keys(OPS_COMMANDS).sort()).toEqual([
      'alarms',
      'audit',
      'bandwidth',
      'check-config',
      'cleanup',
      'dashboard',
      'failed',
      'manifest',
      'queue',
      'reload',
      'requeue',
      'status',
      'upload',
      'verify',
    ]);
  });

  it.each(Object.keys(OPS_COMMANDS))('%s --help prints its usage and exits 0', async (name) => {
    const { io, out } = capture(false);
    expect(await OPS_COMMANDS[name]?.(['--help'], io)).toBe(0);
    expect(out()).toMatch(new RegExp(`^Usage: tvm-upload ${name}`));
  });
});
