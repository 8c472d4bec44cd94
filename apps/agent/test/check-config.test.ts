import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkConfigCommand } from '../src/commands/check-config.js';
import type { CommandIo } from '../src/commands/shared.js';
import { tempDirectory } from './helpers.js';

function captureIo(): CommandIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: (t) => out.push(t), stderr: (t) => err.push(t), isTty: false, now: Date.now };
}

async function configFile(text: string): Promise<string> {
  const dir = await tempDirectory('agent-check-');
  const path = join(dir, 'config.yaml');
  await writeFile(path, text);
  return path;
}

const VALID = `vehicle_id: vehicle-CN-001
log_directories:
  - path: /logs/ros
    source: ros
s3:
  bucket: t01logs
  region: cn-north-1
upload:
  colour: blue
  queue_file: /state/queue.json
`;

describe('checkConfigCommand', () => {
  it('--json prints each problem with its key, line, column and message, and exits 1', async () => {
    const path = await configFile(
      VALID.replace('bucket: t01logs', 'bucket: ""').replace('colour: blue', 'file_stable_secnds: 5'),
    );
    const io = captureIo();
    expect(await checkConfigCommand(['--config', path, '--json'], io)).toBe(1);
    expect(io.err).toEqual([]);
    expect(JSON.parse(io.out.join(''))).toEqual({
      ok: false,
      problems: [
        { key: 's3.bucket', line: 6, column: 11, message: 'must be a bucket name, got ""' },
        {
          key: 'upload.file_stable_secnds',
          line: 9,
          column: 3,
          message: 'unknown key; did you mean `file_stable_seconds`?',
        },
      ],
      warnings: [],
    });
  });

  it('--json prints the config, its state files and the warnings of a valid config, and exits 0', async () => {
    const io = captureIo();
    expect(await checkConfigCommand(['--config', await configFile(VALID), '--json'], io)).toBe(0);
    const report = JSON.parse(io.out.join('')) as Record<string, unknown>;
    expect(report).toMatchObject({
      ok: true,
      problems: [],
      warnings: [{ key: 'upload.colour', line: 9, column: 3, message: 'unknown key (ignored)' }],
      config: { vehicle_id: 'vehicle-CN-001', s3: { region: 'cn-north-1' } },
      state: { stateDir: '/state', queueFile: '/state/queue.json' },
    });
  });

  it('shows the bandwidth timetable in the summary, and names a bad entry', async () => {
    const timetable = VALID.replace(
      'colour: blue',
      'timezone: Asia/Shanghai\n  bandwidth_limit: "08:00,512KiB/s 18:00,4MiB/s 23:00,off"',
    );
    const io = captureIo();
    expect(await checkConfigCommand(['--config', await configFile(timetable)], io)).toBe(0);
    expect(io.out.join('')).toContain(
      'bandwidth limit: timetable 08:00,512 KiB/s 18:00,4 MiB/s 23:00,off (times in Asia/Shanghai; before the first, the last holds)',
    );
    const bad = captureIo();
    const path = await configFile(timetable.replace('18:00,4MiB/s', '18:00,lots'));
    expect(await checkConfigCommand(['--config', path], bad)).toBe(1);
    expect(bad.err.join('') + bad.out.join('')).toContain(
      'upload.bandwidth_limit (line 10, column 20): must be a valid timetable: entry "18:00,lots" has a rate other than one such as "2MB/s", or 0 or off, got "08:00,512KiB/s 18:00,lots 23:00,off"',
    );
  });

  it('shows a YAML syntax error whole, with its code frame', async () => {
    const io = captureIo();
    const path = await configFile('vehicle_id: a\ns3: {bucket: [\n');
    expect(await checkConfigCommand(['--config', path], io)).toBe(1);
    expect(io.err.join('')).toContain(
      '(YAML syntax): Flow sequence in block collection must be sufficiently indented and end with a ] at line 3, column 1:\n\ns3: {bucket: [\n\n^\n',
    );
  });

  it('exits 1 for an unreadable config and 2 for a wrong option', async () => {
    const io = captureIo();
    expect(await checkConfigCommand(['--config', '/no/such/config.yaml', '--json'], io)).toBe(1);
    expect(JSON.parse(io.out.join(''))).toMatchObject({ ok: false, problems: [{ key: '(file)' }] });
    expect(await checkConfigCommand(['--nope'], captureIo())).toBe(2);
  });
});
