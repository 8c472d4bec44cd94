import { execFile, spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const unitFile = join(repo, 'deploy/systemd/tvm-upload.service');
const scripts = [
  'scripts/deployment/install.sh',
  'scripts/deployment/uninstall.sh',
  'scripts/deployment/health_check.sh',
  'scripts/deployment/verify_deployment.sh',
  'scripts/diagnostics/verify_aws_credentials.sh',
].map((s) => join(repo, s));

function has(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
}

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], env: Record<string, string> = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(file, args, { env: { ...process.env, ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function skipBecause(reason: string): void {
  // Printed so a CI log says why a check did not run, instead of a silent green.
  process.stdout.write(`SKIP: ${reason}\n`);
}

describe('shell scripts', () => {
  it.each(scripts)('%s passes shellcheck', async (script) => {
    if (!has('shellcheck')) return skipBecause('shellcheck is not installed (apt-get install -y shellcheck)');
    const result = await run('shellcheck', ['--severity=style', script]);
    expect(result.stdout + result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it.each(scripts)('%s is executable and prints its usage', async (script) => {
    const result = await run(script, ['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Usage:/);
  });
});

describe('deploy/systemd/tvm-upload.service', () => {
  it('passes systemd-analyze verify', async () => {
    if (!has('systemd-analyze'))
      return skipBecause('systemd-analyze is not installed (apt-get install -y systemd)');
    // verify insists that ExecStart exists: point it at a stand-in executable instead of /opt/tvm-upload.
    const dir = await mkdtemp(join(tmpdir(), 'tvm-unit-'));
    try {
      const stub = join(dir, 'tvm-upload');
      await writeFile(stub, '#!/bin/sh\n');
      await chmod(stub, 0o755);
      const unit = (await readFile(unitFile, 'utf8')).replaceAll('/opt/tvm-upload/bin/tvm-upload', stub);
      await writeFile(join(dir, 'tvm-upload.service'), unit);
      const result = await run('systemd-analyze', ['verify', join(dir, 'tvm-upload.service')]);
      // Unknown or misspelt keys are only warnings (exit 0): any output at all is a defect.
      expect(result.stdout + result.stderr).toBe('');
      expect(result.code).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('restarts forever, drains within its stop timeout and logs as tvm-upload', async () => {
    const unit = await readFile(unitFile, 'utf8');
    const key = (name: string) => [...unit.matchAll(new RegExp(`^${name}=(.*)$`, 'gm'))].map((m) => m[1]);
    expect(key('ExecStart')).toEqual([
      '/opt/tvm-upload/bin/tvm-upload run --config /etc/tvm-upload/config.yaml',
    ]);
    expect(key('ExecReload')).toEqual([
      '/opt/tvm-upload/bin/tvm-upload reload --config /etc/tvm-upload/config.yaml --pid $MAINPID',
    ]);
    expect(key('Type')).toEqual(['notify']);
    expect(key('NotifyAccess')).toEqual(['all']);
    expect(key('WatchdogSec')).toEqual(['20s']);
    expect(key('Restart')).toEqual(['always']);
    expect(key('StartLimitIntervalSec')).toEqual(['0']);
    expect(key('SyslogIdentifier')).toEqual(['tvm-upload']);
    expect(Number(key('TimeoutStopSec')[0])).toBeGreaterThan(10);
    expect(key('ProtectSystem')).toEqual(['strict']);
    expect(key('NoNewPrivileges')).toEqual(['yes']);
    expect(key('ReadWritePaths').join(' ')).toContain('/var/lib/tvm-upload');
    // %h is root's home in a system unit, whatever User= says (systemd.unit(5)): the drop-in names the real ones.
    expect(unit).not.toMatch(/^[^#]*%h/m);
  });
});

describe('install.sh --root: the drop-in', () => {
  it("names the configured user's log directories (and --rw-path, ~ expanded) as writable", async () => {
    const root = await mkdtemp(join(tmpdir(), 'tvm-install-'));
    try {
      await mkdir(join(root, 'etc'), { recursive: true });
      await writeFile(join(root, 'etc/passwd'), 'autoware:x:1000:1000::/home/autoware:/bin/bash\n');
      const build = join(root, 'build');
      await mkdir(join(build, 'bin'), { recursive: true });
      await writeFile(join(build, 'tvm-upload.mjs'), '');
      // A stand-in build: install.sh only runs its check-config, which this one passes.
      await writeFile(join(build, 'bin/tvm-upload'), '#!/bin/sh\nexit 0\n');
      await chmod(join(build, 'bin/tvm-upload'), 0o755);
      const install = join(repo, 'scripts/deployment/install.sh');
      const args = ['--root', root, '--build', build, '--user', 'autoware', '--rw-path', '~/bags/log'];
      const result = await run(install, [...args, '--rw-path', '/data/logs']);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const dropin = await readFile(
        join(root, 'etc/systemd/system/tvm-upload.service.d/10-install.conf'),
        'utf8',
      );
      expect(dropin.match(/^ReadWritePaths=.*$/gm)).toEqual([
        'ReadWritePaths=-/home/autoware/.parcel/log',
        'ReadWritePaths=-/home/autoware/.ros/log',
        'ReadWritePaths=-/home/autoware/ros2_ws/log',
        'ReadWritePaths=-/home/autoware/bags/log',
        'ReadWritePaths=-/data/logs',
      ]);
      expect(dropin).toMatch(/^User=autoware$/m);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('health_check.sh', () => {
  let state: string;
  const script = join(repo, 'scripts/deployment/health_check.sh');

  beforeEach(async () => {
    state = await mkdtemp(join(tmpdir(), 'tvm-health-'));
  });
  afterEach(async () => {
    await rm(state, { recursive: true, force: true });
  });

  function check(env: Record<string, string> = {}): Promise<Result> {
    return run(script, [], {
      TVM_STATE_DIR: state,
      TVM_SKIP_SERVICE: '1',
      TVM_SKIP_VERIFY: '1',
      TVM_LOG_FILE: join(state, 'agent.log'),
      TVM_DISK_PATHS: state,
      ...env,
    });
  }

  it('passes on an empty state directory', async () => {
    if (!has('jq')) return skipBecause('jq is not installed (apt-get install -y jq)');
    const result = await check();
    expect(result.stdout).toContain('[PASS] queue: 0 files');
    expect(result.stdout).toContain('[PASS] failed list: 0 files');
    expect(result.stdout).toMatch(/\[PASS\] disk: .* is \d+% full/);
    expect(result.code).toBe(0);
  });

  it('reads the queue size from .files and counts each failing check in its exit code', async () => {
    if (!has('jq')) return skipBecause('jq is not installed (apt-get install -y jq)');
    const files = (n: number) =>
      JSON.stringify({
        version: 2,
        files: Array.from({ length: n }, (_, i) => ({ filepath: `/logs/${i}.log` })),
      });
    await writeFile(join(state, 'queue.json'), files(3));
    await writeFile(join(state, 'failed.json'), files(2));
    await writeFile(
      join(state, 'agent.log'),
      'Retry 1/10 for a.log (next attempt in 1s)\nPERMANENT FAILURE: File not found: /logs/x.log\n',
    );
    const result = await check({ TVM_DISK_CRITICAL: '0' });
    expect(result.stdout).toContain('[PASS] queue: 3 files pending');
    expect(result.stdout).toContain('[FAIL] failed list: 2 file(s)');
    expect(result.stdout).toContain('[FAIL] recent errors: 1 PERMANENT FAILURE');
    expect(result.stdout).toContain('[PASS] retries: 1 Retry');
    expect(result.stdout).toMatch(/\[FAIL\] disk: /);
    expect(result.code).toBe(3);
  });

  it('asks systemctl and journalctl about the tvm-upload unit when no overrides are set', async () => {
    if (!has('jq')) return skipBecause('jq is not installed (apt-get install -y jq)');
    // Stand-ins for systemd's tools on PATH: they record their arguments and answer like a healthy vehicle.
    const bin = join(state, 'bin');
    await mkdir(bin);
    const calls = join(state, 'calls.log');
    await writeFile(
      join(bin, 'systemctl'),
      `#!/bin/sh\necho "systemctl $*" >> ${calls}\ncase "$1" in is-active) exit 0 ;; show) echo 2 ;; esac\n`,
    );
    await writeFile(
      join(bin, 'journalctl'),
      `#!/bin/sh\necho "journalctl $*" >> ${calls}\necho "Retry 1/10 for a.log (next attempt in 1s)"\n`,
    );
    await chmod(join(bin, 'systemctl'), 0o755);
    await chmod(join(bin, 'journalctl'), 0o755);
    const result = await run(script, [], {
      PATH: `${bin}:${process.env['PATH'] ?? ''}`,
      TVM_STATE_DIR: state,
      TVM_SKIP_VERIFY: '1',
      TVM_DISK_PATHS: state,
    });
    expect(result.stdout).toContain('[PASS] service: tvm-upload is active (restarts: 2)');
    expect(result.stdout).toContain('[PASS] recent errors: no PERMANENT FAILURE in 24 h');
    expect(result.stdout).toContain('[PASS] retries: 1 Retry line(s) in the last hour');
    expect(result.code).toBe(0);
    const recorded = await readFile(calls, 'utf8');
    expect(recorded).toContain('systemctl is-active --quiet tvm-upload');
    expect(recorded).toContain('journalctl -u tvm-upload --since 24 hours ago --no-pager -q');
    expect(recorded).toContain('journalctl -u tvm-upload --since 1 hour ago --no-pager -q');
  });

  it('reads the state paths from the config (upload.queue_file, upload.failed_file) when no TVM_* path is set', async () => {
    if (!has('jq')) return skipBecause('jq is not installed (apt-get install -y jq)');
    const { bundleAgent } = await import('../scripts/bundle.js');
    await bundleAgent(join(state, 'vehicle'));
    const elsewhere = join(state, 'elsewhere');
    await mkdir(elsewhere);
    const files = (n: number) =>
      JSON.stringify({
        version: 2,
        files: Array.from({ length: n }, (_, i) => ({ filepath: `/logs/${i}.log` })),
      });
    await writeFile(join(elsewhere, 'q.json'), files(2));
    await writeFile(join(elsewhere, 'f.json'), files(1));
    const config = join(state, 'config.yaml');
    await writeFile(
      config,
      [
        'vehicle_id: v1',
        'log_directories: [{ path: /tmp, source: tmp }]',
        's3: { bucket: b, region: cn-north-1 }',
        `upload: { queue_file: ${join(elsewhere, 'q.json')}, failed_file: ${join(elsewhere, 'f.json')} }`,
        '',
      ].join('\n'),
    );
    const result = await run(script, [], {
      TVM_CONFIG: config,
      TVM_UPLOAD_BIN: join(state, 'vehicle/bin/tvm-upload'),
      TVM_SKIP_SERVICE: '1',
      TVM_SKIP_VERIFY: '1',
      TVM_LOG_FILE: join(state, 'agent.log'),
      TVM_DISK_PATHS: state,
    });
    expect(result.stdout).toContain('[PASS] queue: 2 files pending');
    expect(result.stdout).toContain('[FAIL] failed list: 1 file(s)');
    expect(result.code).toBe(1);
  });

  it('fails on an unreadable queue file and on a missing agent', async () => {
    if (!has('jq')) return skipBecause('jq is not installed (apt-get install -y jq)');
    await writeFile(join(state, 'queue.json'), '{ truncated');
    const result = await check({ TVM_SKIP_VERIFY: '0', TVM_UPLOAD_BIN: join(state, 'missing') });
    expect(result.stdout).toContain('[FAIL] queue: cannot read');
    expect(result.stdout).toContain('[FAIL] aws:');
    expect(result.code).toBe(2);
    expect(await readdir(state)).toContain('queue.json');
  });
});
