/**
 * tvm-upload as a vehicle runs it: installed by install.sh into a booted systemd (a container), logging to a real
 * journal, operated with the runbook's and the README's own commands, typed as they are written there.
 * `pnpm --filter @tvm/agent test:vehicle`; one container for the whole file (boot and install in beforeAll).
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cannotBoot, until } from './container.js';
import { HOME, LOG_DIRS, startVehicle, USER, vehicleConfig, writeFileCommand, type Vehicle } from './vehicle.js';

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
        return [...expected].every(([suffix, digest]) => bySuffix(suffix)?.sha256 === digest) ? objects : undefined;
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
  });

  it('files in the three log directories land byte-identical, and keep_days: 0 deletes them in the home', async () => {
    const expected = new Map<string, string>();
    for (const [source, dir] of Object.entries(LOG_DIRS)) {
      expected.set(`/${source}-vehicle.log`, await writeLog(`${dir}/${source}-vehicle.log`, `a ${source} log line`));
    }
    await landed(expected);
    // After-upload deletion (keep_days: 0) under ProtectHome=read-only: the unit must make these writable.
    await until(
      'the uploaded files to be deleted from the home directory',
      async () => {
        const left = await sh(`ls ${Object.values(LOG_DIRS).map((d) => `${d}/*-vehicle.log`).join(' ')} 2>/dev/null`);
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

  void journalHas;
  void mainPid;
  void vehicleConfig;
});
