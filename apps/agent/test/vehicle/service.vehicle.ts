/**
 * tvm-upload as a vehicle runs it: installed by install.sh into a booted systemd (a container), logging to a real
 * journal, operated with the runbook's and the README's own commands, typed as they are written there.
 * `pnpm --filter @tvm/agent test:vehicle`; one container for the whole file (boot and install in beforeAll).
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cannotBoot, until } from './container.js';
import {
  HOME,
  LOG_DIRS,
  repo,
  startVehicle,
  USER,
  vehicleConfig,
  writeFileCommand,
  type Vehicle,
} from './vehicle.js';

const reason = cannotBoot();
if (reason !== undefined) process.stdout.write(`SKIP: the booted-systemd suite cannot run here: ${reason}\n`);

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const suiteStarted = Date.now();

describe.skipIf(reason !== undefined)('tvm-upload under a real systemd', () => {
  let v: Vehicle;
  let c: Vehicle['container'];

  beforeAll(async () => {
    v = await startVehicle();
    c = v.container;
    process.stdout.write(
      `vehicle: bundle ${v.timings.bundleMs} ms, boot ${v.timings.bootMs} ms, setup+install ${v.timings.setupMs} ms\n`,
    );
  }, 240_000);
  afterAll(async () => {
    await v?.container.shutdown();
    process.stdout.write(`vehicle suite: ${Date.now() - suiteStarted} ms\n`);
  }, 60_000);

  /** Runs `command` in the container; on a failed expectation the message carries the journal tail. */
  const sh = (command: string, user?: string) => c.exec(command, user ? { user } : {});
  const journalHas = async (pattern: RegExp, timeoutMs = 30_000) =>
    until(
      `the journal to show ${pattern}`,
      async () => {
        const text = (await sh('journalctl -u tvm-upload --no-pager -q')).stdout;
        return pattern.test(text) ? text : undefined;
      },
      timeoutMs,
      500,
    ).catch(async (error: Error) => {
      throw new Error(`${error.message}\njournal:\n${await c.journalTail('tvm-upload', 60)}`);
    });
  /** Writes a log file as the vehicle user, returns its expected object digest. */
  const writeLog = async (path: string, text: string) => {
    await c.run(writeFileCommand(path, text), { user: USER });
    return sha256(`${text}\n`);
  };
  /** Waits until every key in `expected` is in S3 with that digest. */
  const landed = async (expected: Map<string, string>, timeoutMs = 60_000) =>
    until(
      `${expected.size} object(s) to land in S3`,
      async () => {
        const objects = await v.objects();
        const bySuffix = (suffix: string) => objects.find((o) => o.key.endsWith(suffix));
        return [...expected].every(([suffix, digest]) => bySuffix(suffix)?.sha256 === digest)
          ? objects
          : undefined;
      },
      timeoutMs,
      1_000,
    ).catch(async (error: Error) => {
      throw new Error(
        `${error.message}\nin S3: ${JSON.stringify((await v.objects()).map((o) => o.key))}\n` +
          `journal:\n${await c.journalTail('tvm-upload', 60)}`,
      );
    });
  const mainPid = async () => Number((await c.run('systemctl show -p MainPID --value tvm-upload')).trim());

  it('systemctl status tvm-upload: active, running as the vehicle user', async () => {
    const status = await sh('systemctl status tvm-upload');
    expect(status.stdout).toMatch(/Active: active \(running\)/);
    expect(status.code).toBe(0);
    const user = await c.run('ps -o user= -p "$(systemctl show -p MainPID --value tvm-upload)"');
    expect(user.trim()).toBe(USER);
    // The sandbox, with install.sh's drop-in, as the running systemd rates it (3.3 before this unit's hardening).
    const security = await c.run('systemd-analyze security tvm-upload.service --no-pager');
    const score = Number(/Overall exposure level for tvm-upload\.service: ([\d.]+)/.exec(security)?.[1]);
    expect(score).toBeLessThanOrEqual(2.5);
  });

  it('files in the three log directories land byte-identical, and keep_days: 0 deletes them in the home', async () => {
    const expected = new Map<string, string>();
    for (const [source, dir] of Object.entries(LOG_DIRS)) {
      expected.set(
        `/${source}-vehicle.log`,
        await writeLog(`${dir}/${source}-vehicle.log`, `a ${source} log line`),
      );
    }
    await landed(expected);
    // After-upload deletion (keep_days: 0) under ProtectHome=read-only: the unit must make these writable.
    await until(
      'the uploaded files to be deleted from the home directory',
      async () => {
        const left = await sh(
          `ls ${Object.values(LOG_DIRS)
            .map((d) => `${d}/*-vehicle.log`)
            .join(' ')} 2>/dev/null`,
        );
        return left.stdout.trim() === '' ? true : undefined;
      },
      30_000,
      500,
    ).catch(async (error: Error) => {
      throw new Error(`${error.message}\n${await c.journalTail('tvm-upload', 60)}`);
    });
    const journal = (await sh('journalctl -u tvm-upload --no-pager')).stdout;
    expect(journal).not.toMatch(/EROFS|read-only file system/i);
    expect(HOME).toBe('/home/autoware');
  });

  it('journalctl -o json: SYSLOG_IDENTIFIER=tvm-upload, PRIORITY 6 for ordinary lines; STATUS= in systemctl status', async () => {
    const entries = (await c.run('journalctl -u tvm-upload -o json --no-pager'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, string>)
      .filter((e) => e['_COMM'] !== 'systemd' && e['SYSLOG_IDENTIFIER'] !== 'systemd');
    const uploaded = entries.filter((e) => /^Uploaded /.test(e['MESSAGE'] ?? ''));
    expect(uploaded.length).toBeGreaterThanOrEqual(3);
    for (const e of uploaded)
      expect({ id: e['SYSLOG_IDENTIFIER'], priority: e['PRIORITY'] }).toEqual({
        id: 'tvm-upload',
        priority: '6',
      });
    // No priority prefix leaks into the text: journald took it.
    expect(entries.filter((e) => /^<\d>/.test(e['MESSAGE'] ?? ''))).toEqual([]);
    // Type=notify: the agent's STATUS= line (refreshed with each watchdog ping, every 10 s).
    await until(
      'systemctl status to show the STATUS= line with the last upload',
      async () =>
        (await c.run('systemctl status tvm-upload')).match(
          /Status: "\d+ queued, online, last upload \d\d:\d\d"/,
        ) ?? undefined,
      25_000,
      1_000,
    );
  });

  it('sudo scripts/deployment/health_check.sh exits 0 when healthy; verify_aws_credentials.sh as the vehicle user exits 0', async () => {
    const health = await sh(`cd ${repo} && sudo scripts/deployment/health_check.sh`);
    expect(health.stdout).toContain('[PASS] service: tvm-upload is active');
    expect(health.stdout).toContain(`[PASS] aws: tvm-upload verify passed (as ${USER})`);
    expect(health.stdout).toMatch(/\[PASS\] queue: \d+ files pending/);
    expect({ code: health.code, out: health.stdout }).toMatchObject({ code: 0 });
    const verify = await sh(`cd ${repo} && scripts/diagnostics/verify_aws_credentials.sh`, USER);
    expect({ code: verify.code, out: verify.stdout + verify.stderr }).toMatchObject({ code: 0 });
  });

  it("temporary errors: the runbook's Retry greps on the journal, and the queue through jq while files wait", async () => {
    await v.unavailable(true);
    try {
      const names = ['test.log', 'file1.log', 'file2.log'];
      for (const name of names) await writeLog(`${LOG_DIRS.terminal}/${name}`, `waiting ${name}`);
      await journalHas(/Retry 1\/10 for file2\.log/);
      await journalHas(/Retry 1\/10 for test\.log/);
      await journalHas(/Retry 1\/10 for file1\.log/);
      const retries = (await c.run('journalctl -u tvm-upload -n 100 | grep "Retry"')).trim().split('\n');
      for (const line of retries)
        expect(line).toMatch(
          /tvm-upload\[\d+\]: Retry \d+\/10 for (test|file1|file2)\.log \(next attempt in \d+s\)$/,
        );
      const count = Number(
        (await c.run('journalctl -u tvm-upload --since "1 hour ago" | grep -c "Retry"')).trim(),
      );
      expect(count).toBeGreaterThanOrEqual(3);
      // The runbook's queue checks, while the files wait.
      expect((await c.run("cat /var/lib/tvm-upload/queue.json | jq '.files | length'")).trim()).toBe('3');
      const listed = (await c.run("cat /var/lib/tvm-upload/queue.json | jq '.files[].filepath'"))
        .trim()
        .split('\n');
      expect(listed.sort()).toEqual(names.map((n) => JSON.stringify(`${LOG_DIRS.terminal}/${n}`)).sort());
      const json = (await c.run('journalctl -u tvm-upload -o json --no-pager | grep "Retry 1/10"'))
        .trim()
        .split('\n');
      for (const line of json) expect((JSON.parse(line) as { PRIORITY: string }).PRIORITY).toMatch(/^[34]$/);
    } finally {
      await v.unavailable(false);
    }
    await landed(new Map([['/terminal/file2.log', sha256('waiting file2.log\n')]]), 90_000);
  });

  it('sudo systemctl restart tvm-upload: a new process, active again (READY=1 arrived)', async () => {
    const before = await mainPid();
    const restart = await sh('sudo systemctl restart tvm-upload', undefined);
    expect(restart).toMatchObject({ code: 0 });
    const after = await mainPid();
    expect(after).not.toBe(before);
    expect((await c.run('systemctl is-active tvm-upload')).trim()).toBe('active');
  });

  it('systemctl reload tvm-upload: an invalid config exits non-zero and changes nothing; a valid one is live', async () => {
    const pid = await mainPid();
    await c.run('cp -p /etc/tvm-upload/config.yaml /root/config.good.yaml');
    await c.run(
      `${writeFileCommand('/etc/tvm-upload/config.yaml', vehicleConfig(v.endpoint, { extra: 'upload:\n  bogus: 1' }))}`,
    );
    const bad = await sh('systemctl reload tvm-upload');
    expect(bad.code).not.toBe(0);
    await journalHas(/Reload refused: \/etc\/tvm-upload\/config\.yaml is invalid/);
    expect(await mainPid()).toBe(pid);
    expect((await c.run('systemctl is-active tvm-upload')).trim()).toBe('active');

    await c.run(
      writeFileCommand(
        '/etc/tvm-upload/config.yaml',
        vehicleConfig(v.endpoint, { vehicleId: 'vehicle-CN-002' }),
      ),
    );
    const good = await sh('systemctl reload tvm-upload');
    expect({ code: good.code, err: good.stderr }).toMatchObject({ code: 0 });
    expect(await mainPid()).toBe(pid);
    const digest = await writeLog(`${LOG_DIRS.ros}/after-reload.log`, 'written after the reload');
    const objects = await landed(new Map([['/after-reload.log', digest]]));
    expect(objects.find((o) => o.key.endsWith('/after-reload.log'))?.key).toMatch(/^vehicle-CN-002\//);
  });

  it('systemctl kill -s KILL tvm-upload during a 50-file run: systemd restarts it and every file lands', async () => {
    const restarts = async () =>
      Number((await c.run('systemctl show -p NRestarts --value tvm-upload')).trim());
    const before = { pid: await mainPid(), restarts: await restarts() };
    const expected = new Map<string, string>();
    // 50 files of 64 KiB, written at once; the kill lands while they upload.
    await c.run(
      `for i in $(seq -w 1 50); do head -c 65536 /dev/urandom > ${LOG_DIRS.ros2}/bulk-$i.log; done; chown ${USER}: ${LOG_DIRS.ros2}/bulk-*.log`,
    );
    const sums = await c.run(`cd ${LOG_DIRS.ros2} && sha256sum bulk-*.log`);
    for (const line of sums.trim().split('\n')) {
      const [digest, name] = line.split(/\s+/);
      expected.set(`/${name}`, digest ?? '');
    }
    expect(expected.size).toBe(50);
    await journalHas(/Uploaded \S+bulk-\d+\.log/, 30_000);
    expect(await sh('systemctl kill -s KILL tvm-upload')).toMatchObject({ code: 0 });
    await until(
      'systemd to restart tvm-upload',
      async () => ((await restarts()) > before.restarts ? true : undefined),
      30_000,
      500,
    );
    await until(
      'tvm-upload to be active again',
      async () =>
        (await sh('systemctl is-active tvm-upload')).stdout.trim() === 'active' ? true : undefined,
      30_000,
      500,
    );
    expect(await mainPid()).not.toBe(before.pid);
    await landed(expected, 90_000);
    // A file uploaded and deleted (keep_days: 0) just before the kill must not come back as queued with its file
    // gone: uploaded files are deleted only once their registry record is durable.
    const journal = (await sh('journalctl -u tvm-upload --no-pager -q')).stdout;
    expect(journal).not.toMatch(/PERMANENT FAILURE: .*bulk-\d+\.log|Permanent upload error for bulk-/);
  });

  it("a SIGSTOPped agent is restarted by systemd's watchdog", async () => {
    const pid = await mainPid();
    await c.run(`kill -STOP ${pid}`);
    await journalHas(/Watchdog timeout/, 45_000);
    await until(
      'a new, active tvm-upload',
      async () => {
        const now = await mainPid();
        return now !== pid &&
          now !== 0 &&
          (await sh('systemctl is-active tvm-upload')).stdout.trim() === 'active'
          ? true
          : undefined;
      },
      45_000,
      500,
    );
  });

  it("permanent errors: the runbook's PERMANENT FAILURE greps, PRIORITY 3, and health_check.sh exits non-zero", async () => {
    // A log file the vehicle user cannot read (root's, mode 600): a permanent error, not retried.
    await c.run(`echo secret > ${LOG_DIRS.ros}/unreadable.log && chmod 600 ${LOG_DIRS.ros}/unreadable.log`);
    await journalHas(/PERMANENT FAILURE: .*unreadable\.log/);
    const permanent = await c.run('journalctl -u tvm-upload | grep "PERMANENT FAILURE"');
    expect(permanent).toMatch(/tvm-upload\[\d+\]: PERMANENT FAILURE: .*unreadable\.log$/m);
    expect(
      (await sh('journalctl -u tvm-upload --since "24 hours ago" | grep -A 5 "PERMANENT FAILURE"')).code,
    ).toBe(0);
    expect(
      (await c.run('journalctl -u tvm-upload --since "7 days ago" | grep -E "PERMANENT|Retry 10/10"')).trim(),
    ).toMatch(/PERMANENT FAILURE/);
    const json = (await c.run('journalctl -u tvm-upload -o json --no-pager | grep "PERMANENT FAILURE"'))
      .trim()
      .split('\n');
    for (const line of json) expect((JSON.parse(line) as { PRIORITY: string }).PRIORITY).toBe('3');
    const health = await sh(`cd ${repo} && sudo scripts/deployment/health_check.sh`);
    expect(health.stdout).toMatch(/\[FAIL\] recent errors: \d+ PERMANENT FAILURE/);
    expect(health.stdout).toMatch(/\[FAIL\] failed list: \d+ file\(s\)/);
    expect(health.code).toBe(2);
  });

  it('sudo systemctl stop tvm-upload: Result=success, well within TimeoutStopSec', async () => {
    const started = Date.now();
    expect(await sh('sudo systemctl stop tvm-upload')).toMatchObject({ code: 0 });
    const took = Date.now() - started;
    expect((await c.run('systemctl show -p Result tvm-upload')).trim()).toBe('Result=success');
    expect(took).toBeLessThan(10_000);
    // Over the whole suite (well over a minute, WatchdogSec=20s) the only watchdog timeout is the SIGSTOP test's:
    // every WATCHDOG=1 sent through systemd-notify arrived.
    expect((await sh('journalctl -u tvm-upload | grep -c "Watchdog timeout"')).stdout.trim()).toBe('1');
  });
});
