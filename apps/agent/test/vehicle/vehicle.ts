/**
 * A vehicle in a booted container: user `autoware` with the three default log directories and `~/.aws` (profile
 * `china`), s3rver (with the multipart shim and a switchable outage proxy) on the container's loopback, and
 * tvm-upload installed by `scripts/deployment/install.sh --user autoware` from the vehicle build, as the README says.
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { bootContainer, until, type Container } from './container.js';

export const repo = fileURLToPath(new URL('../../../../', import.meta.url)).replace(/\/$/, '');
export const USER = 'autoware';
export const HOME = `/home/${USER}`;
export const LOG_DIRS = {
  terminal: `${HOME}/.parcel/log/terminal`,
  ros: `${HOME}/.ros/log`,
  ros2: `${HOME}/ros2_ws/log`,
} as const;
const S3_STATE = '/run/tvm-test-s3.json';
const tsxLoader = createRequire(import.meta.url).resolve('tsx');
const serveScript = fileURLToPath(new URL('./s3-serve.ts', import.meta.url));

/** The machine's services the vehicle test does not need (a quicker, quieter boot). */
const MASK = [
  'postgresql.service',
  'postgresql@.service',
  'apt-daily.timer',
  'apt-daily-upgrade.timer',
  'man-db.timer',
  'e2scrub_reap.service',
  'systemd-timesyncd.service',
  'console-getty.service',
  // The checkout may live under /tmp (CI clones anywhere): a tmpfs there would hide it from the container.
  'tmp.mount',
];

/** The vehicle config the tests install (and variants of it for reload). */
export function vehicleConfig(
  endpoint: string,
  overrides: { vehicleId?: string; extra?: string } = {},
): string {
  return [
    `vehicle_id: ${overrides.vehicleId ?? 'vehicle-CN-001'}`,
    'log_directories:',
    '  - path: ${HOME}/.parcel/log/terminal',
    '    source: terminal',
    '  - path: ${HOME}/.ros/log',
    '    source: ros',
    '  - path: ${HOME}/ros2_ws/log',
    '    source: ros2',
    's3:',
    '  bucket: t01logs',
    '  region: cn-north-1',
    '  profile: china',
    '  credentials_path: ${HOME}/.aws',
    `  endpoint: ${endpoint}`,
    '  force_path_style: true',
    '  checksum_mode: when_required',
    'upload:',
    '  file_stable_seconds: 1',
    '  operational_hours: { enabled: false }',
    '  scan_existing_files: { enabled: true, max_age_days: 3 }',
    'deletion:',
    '  after_upload: { enabled: true, keep_days: 0 }',
    'disk:',
    '  reserved_gb: 0',
    'monitoring:',
    '  cloudwatch_enabled: false',
    overrides.extra ?? '',
    '',
  ].join('\n');
}

/** A shell command writing `text` + newline to `path` inside the container (base64: no quoting, chainable). */
export function writeFileCommand(path: string, text: string): string {
  return `echo ${Buffer.from(`${text}\n`).toString('base64')} | base64 -d > ${path}`;
}

function hostCommand(file: string, args: string[], cwd: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd, timeout: timeoutMs, maxBuffer: 8 << 20 }, (error, stdout, stderr) => {
      if (error)
        reject(new Error(`${file} ${args.join(' ')} failed: ${error.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** A vehicle: the container plus what the tests need to know about it. */
export interface Vehicle {
  container: Container;
  /** The S3 endpoint the agent uses (the switchable front of the shim and s3rver). */
  endpoint: string;
  /** Milliseconds: bundle, boot, install. */
  timings: { bundleMs: number; bootMs: number; setupMs: number };
  /** Every object in the bucket. */
  objects(): Promise<Array<{ key: string; size: number; sha256: string }>>;
  /** Makes S3 answer 503 ServiceUnavailable to everything (on), or work again (off). */
  unavailable(on: boolean): Promise<void>;
}

/** Builds the vehicle bundle, boots the container and installs tvm-upload as the README says. */
export async function startVehicle(): Promise<Vehicle> {
  let started = Date.now();
  // The README's step 1. Built before the overlay is mounted: overlayfs wants its lower layer left alone.
  await hostCommand('pnpm', ['--filter', '@tvm/agent', 'bundle'], repo, 120_000);
  const bundleMs = Date.now() - started;
  const container = await bootContainer({ mask: MASK, bindReadOnly: [repo] });
  started = Date.now();
  try {
    const c = container;
    await c.run(
      [
        `useradd --create-home --shell /bin/bash ${USER}`,
        `install -d -o ${USER} -g ${USER} ${HOME}/.parcel ${HOME}/.parcel/log ${LOG_DIRS.terminal} ${HOME}/.ros ${LOG_DIRS.ros} ${HOME}/ros2_ws ${LOG_DIRS.ros2} ${HOME}/.aws`,
        writeFileCommand(
          `${HOME}/.aws/credentials`,
          '[china]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER',
        ),
        writeFileCommand(`${HOME}/.aws/config`, '[profile china]\nregion = cn-north-1'),
        `chown ${USER}:${USER} ${HOME}/.aws/credentials ${HOME}/.aws/config && chmod 600 ${HOME}/.aws/credentials`,
        // The README types `sudo ...`; a machine without sudo gets a root-only stand-in (everything here is root).
        'command -v sudo >/dev/null || { printf "#!/bin/sh\\nexec \\"\\$@\\"\\n" > /usr/local/bin/sudo && chmod 755 /usr/local/bin/sudo; }',
        `systemd-run --unit=tvm-test-s3 --property=WorkingDirectory=${repo} --setenv=AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true ` +
          `${process.execPath} --import ${tsxLoader} --conditions=@tvm/source --no-warnings ${serveScript} serve ${S3_STATE}`,
      ].join(' && '),
    );
    const state = await until(
      's3rver to listen in the container',
      async () => {
        const r = await c.exec(`cat ${S3_STATE} 2>/dev/null`);
        return r.code === 0 && r.stdout.trim() ? (JSON.parse(r.stdout) as { endpoint: string }) : undefined;
      },
      30_000,
    ).catch(async (error: Error) => {
      throw new Error(`${error.message}\n${await c.journalTail('tvm-test-s3')}`);
    });
    await c.run(writeFileCommand('/root/my-vehicle.yaml', vehicleConfig(state.endpoint)));
    // The README's step 2, typed as it says (the build is the default apps/agent/dist/vehicle).
    await c.run(
      `cd ${repo} && sudo scripts/deployment/install.sh --user ${USER} --config /root/my-vehicle.yaml`,
      {
        timeoutMs: 60_000,
      },
    );
    return {
      container,
      endpoint: state.endpoint,
      timings: { bundleMs, bootMs: container.bootMs, setupMs: Date.now() - started },
      async objects() {
        const out = await c.run(
          `cd ${repo} && AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true ${process.execPath} --import ${tsxLoader} --conditions=@tvm/source --no-warnings ${serveScript} list ${S3_STATE}`,
        );
        return JSON.parse(out) as Array<{ key: string; size: number; sha256: string }>;
      },
      async unavailable(on) {
        await c.run(`systemctl kill -s ${on ? 'USR1' : 'USR2'} tvm-test-s3`);
      },
    };
  } catch (error) {
    await container.shutdown();
    throw error;
  }
}
