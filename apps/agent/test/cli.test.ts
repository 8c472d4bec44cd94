import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTypeScript } from '@tvm/test-utils';
import { describe, expect, it } from 'vitest';
import { VERSION } from '../src/version.js';
import { tempDirectory } from './helpers.js';

const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    // The machine's own AWS_CA_BUNDLE would show in the summary line.
    const { stdout, stderr } = await runTypeScript(cli, { args, env: { AWS_CA_BUNDLE: '' } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function configFile(text: string): Promise<string> {
  const dir = await tempDirectory('agent-cli-');
  const path = join(dir, 'config.yaml');
  await writeFile(path, text);
  return path;
}

const VALID = `
vehicle_id: vehicle-CN-001
log_directories:
  - path: /logs/ros
    source: ros
s3:
  bucket: t01logs
  region: cn-north-1
  profile: china
upload:
  colour: blue
`;

describe('tvm-upload', () => {
  it('prints its version and, from the sources, the commit checked out', async () => {
    const { stdout } = await run(['--version']);
    const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
    expect(stdout.trim()).toBe(
      `${VERSION} (commit ${commit.status === 0 ? commit.stdout.trim() : 'source'})`,
    );
  });

  it.each([
    [
      'run',
      /^Usage: tvm-upload run \[--config <path>\].*\n[\s\S]*--log-level[\s\S]*--test-config[\s\S]*Exit codes/,
    ],
    [
      'check-config',
      /^Usage: tvm-upload check-config \[--config <path>\] \[--json\]\n[\s\S]*--json[\s\S]*Exit codes/,
    ],
  ])('%s --help prints its own help', async (command, help) => {
    const { code, stdout, stderr } = await run([command, '--help']);
    expect(stdout).toMatch(help);
    expect(stdout).not.toContain('tvm-upload cleanup'); // not the whole CLI's usage
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  it('--help alone prints every command', async () => {
    const { code, stdout } = await run(['--help']);
    expect(stdout).toContain('tvm-upload run [--config <path>]');
    expect(stdout).toContain('tvm-upload cleanup');
    expect(code).toBe(0);
  });

  it('check-config summarises a valid config and warns about unknown keys', async () => {
    const path = await configFile(VALID);
    const { code, stdout, stderr } = await run(['check-config', '--config', path]);
    expect(code).toBe(0);
    expect(stdout).toContain(`Config OK: ${path}`);
    expect(stdout).toContain('vehicle: vehicle-CN-001');
    expect(stdout).toContain('bucket: t01logs (region cn-north-1, profile china)');
    expect(stdout).toContain('  ros: /logs/ros (pattern *, recursive, deletion allowed, priority normal)');
    expect(stdout).toContain(
      "lanes: no priority rules (first match wins over the directory's priority); oldest_first within a lane",
    );
    expect(stdout).toContain('schedule: every 2 h 0 min; operational hours 09:00-18:00');
    expect(stdout).toContain(
      'deletion: after upload, keep 7 days; age-based over 14 days at 02:00; emergency at 95% disk use',
    );
    expect(stderr).toContain('warning: upload.colour (line 11, column 3): unknown key (ignored)');
  });

  it('check-config exits 1 with one line per problem', async () => {
    const path = await configFile(
      VALID.replace('bucket: t01logs', 'bucket: ""').replace(
        'colour: blue',
        'schedule: { interval_hours: 0, interval_minutes: 2 }',
      ),
    );
    const { code, stderr } = await run(['check-config', '--config', path]);
    expect(code).toBe(1);
    expect(stderr.split('\n')).toEqual(
      expect.arrayContaining([
        's3.bucket (line 7, column 11): must be a bucket name, got ""',
        'upload.schedule.interval_minutes (line 11, column 52): must make an interval between 5 minutes and 24 hours, got interval_hours 0 + interval_minutes 2',
      ]),
    );
  });

  it('run --test-config validates and exits', async () => {
    const path = await configFile(VALID);
    expect((await run(['run', '--test-config', '--config', path])).code).toBe(0);
    expect((await run(['run', '--test-config', '--config', `${path}.missing`])).code).toBe(1);
  });
});
