/**
 * A booted systemd in a container on this machine (toolchain.md, "A real systemd and journald in a container"):
 * an overlay of the machine's root (lower `/`, upper and work dirs in a temp dir) booted with
 * `systemd-nspawn --register=no --keep-unit --private-network -b -D <merged>`. Commands run inside through
 * `nsenter` into the namespaces of the container's init. The host's PID 1 and its cgroups are never touched.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** What a command inside the container printed and how it exited. */
export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@link Container.exec}. */
export interface ExecOptions {
  /** Run as this user (`runuser -u USER`); root otherwise. */
  user?: string;
  /** Killed (and reported as code 124) after this long. @default 60_000 */
  timeoutMs?: number;
}

/** A booted container. */
export interface Container {
  /** The merged root, as the host sees it: `join(root, '/etc/...')` is the container's `/etc/...`. */
  root: string;
  /** Milliseconds from starting systemd-nspawn to multi-user.target active (or the system running). */
  bootMs: number;
  /** Runs `command` with bash inside the container (its mount, pid, net, ipc, uts and cgroup namespaces). */
  exec(command: string, options?: ExecOptions): Promise<ExecResult>;
  /** Like exec, but throws with the output (and the unit's journal tail) when the exit code is not 0. */
  run(command: string, options?: ExecOptions): Promise<string>;
  /** The last `lines` journal lines of `unit` (for failure messages). */
  journalTail(unit: string, lines?: number): Promise<string>;
  /** Powers the container off, unmounts the overlay and removes the temp dir. Safe to call twice. */
  shutdown(): Promise<void>;
}

/** Options of {@link bootContainer}. */
export interface BootOptions {
  /** Units to mask before boot (the machine's own services the test does not need). */
  mask?: string[];
  /** @default 60_000 */
  bootTimeoutMs?: number;
  /**
   * Host directories the container sees read-only at the same path (the checkout: the overlay of `/` does not show
   * directories on other filesystems).
   */
  bindReadOnly?: string[];
}

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Why a container cannot boot here, or undefined when it can be tried. */
export function cannotBoot(): string | undefined {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  if (process.getuid?.() !== 0) return 'not root (systemd-nspawn and overlay mounts need root)';
  const missing = ['systemd-nspawn', 'nsenter', 'mount', 'umount'].filter(
    (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0,
  );
  if (missing.length > 0)
    return `${missing.join(', ')} not installed (apt-get install -y systemd-container util-linux)`;
  if (
    spawnSync('sh', ['-c', 'test -x /lib/systemd/systemd || test -x /usr/lib/systemd/systemd']).status !== 0
  )
    return 'no systemd in this root to boot (apt-get install -y systemd)';
  return undefined;
}

/** Polls `check` every `everyMs` until it returns a value other than undefined, or throws `what` at the deadline. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  everyMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

function runHost(file: string, args: string[], timeoutMs = 30_000): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH, LANG: 'C.UTF-8' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ code: 127, stdout, stderr: stderr + String(error) });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal === 'SIGKILL' ? 124 : 128), stdout, stderr });
    });
  });
}

async function childrenOf(pid: number): Promise<number[]> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  return text.trim().split(/\s+/).filter(Boolean).map(Number);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Boots the container; throws (after tearing down what it made) when it does not come up in time. */
export async function bootContainer(options: BootOptions = {}): Promise<Container> {
  const dir = await mkdtemp('/var/tmp/tvm-vehicle-');
  const upper = join(dir, 'upper');
  const work = join(dir, 'work');
  const root = join(dir, 'merged');
  await Promise.all([upper, work, root].map((d) => mkdir(d)));
  let mounted = false;
  let nspawn: ReturnType<typeof spawn> | undefined;
  let leader = 0;
  let down = false;
  const consoleLog = join(dir, 'console.log');

  const shutdown = async (): Promise<void> => {
    if (down) return;
    down = true;
    const pid = nspawn?.pid;
    if (pid !== undefined && alive(pid)) {
      // SIGRTMIN+4 asks systemd for a clean poweroff (systemd(1)); then nspawn exits.
      if (leader > 0) spawnSync('kill', ['-s', 'RTMIN+4', String(leader)]);
      const exited = await until(
        'the container to power off',
        () => (alive(pid) ? undefined : true),
        20_000,
      ).catch(() => false);
      if (!exited) {
        if (leader > 0) spawnSync('kill', ['-9', String(leader)]);
        process.kill(pid, 'SIGKILL');
        await until('systemd-nspawn to exit', () => (alive(pid) ? undefined : true), 10_000).catch(
          () => false,
        );
      }
    }
    if (mounted) {
      for (let i = 0; i < 10; i++) {
        if ((await runHost('umount', [root])).code === 0) {
          mounted = false;
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      if (mounted) await runHost('umount', ['-l', root]);
    }
    await rm(dir, { recursive: true, force: true });
  };

  const exec = (command: string, execOptions: ExecOptions = {}): Promise<ExecResult> => {
    const shell = execOptions.user
      ? ['/usr/sbin/runuser', '-u', execOptions.user, '--', '/bin/bash', '-c', command]
      : ['/bin/bash', '-c', command];
    return runHost(
      'nsenter',
      ['-t', String(leader), '-m', '-u', '-i', '-n', '-p', '-C', '--root', '--wd', '--', ...shell],
      execOptions.timeoutMs ?? 60_000,
    );
  };
  const journalTail = async (unit: string, lines = 40): Promise<string> =>
    (await exec(`journalctl -u ${unit} -n ${lines} --no-pager -o short-precise`)).stdout;
  const container: Container = {
    root,
    bootMs: 0,
    exec,
    journalTail,
    async run(command, execOptions) {
      const result = await exec(command, execOptions);
      if (result.code !== 0) {
        throw new Error(
          `in the container, \`${command}\` exited ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}\n` +
            `journal (tvm-upload):\n${await journalTail('tvm-upload')}`,
        );
      }
      return result.stdout;
    },
    shutdown,
  };

  try {
    const mount = await runHost('mount', [
      '-t',
      'overlay',
      'overlay',
      '-o',
      `lowerdir=/,upperdir=${upper},workdir=${work}`,
      root,
    ]);
    if (mount.code !== 0) throw new Error(`overlay mount failed: ${mount.stderr.trim()}`);
    mounted = true;
    // Units of this machine that a vehicle test does not need are masked in the overlay (a faster, quieter boot).
    const unitDir = join(root, 'etc/systemd/system');
    for (const unit of options.mask ?? []) {
      await rm(join(unitDir, unit), { force: true });
      await symlink('/dev/null', join(unitDir, unit));
    }
    await writeFile(consoleLog, '');
    const started = Date.now();
    const { openSync } = await import('node:fs');
    const out = openSync(consoleLog, 'a');
    nspawn = spawn(
      'systemd-nspawn',
      [
        '--register=no',
        '--keep-unit',
        '--private-network',
        ...(options.bindReadOnly ?? []).map((dir) => `--bind-ro=${dir}`),
        '-b',
        '-D',
        root,
        '--quiet',
      ],
      { stdio: ['ignore', out, out], detached: true, env: { PATH, LANG: 'C.UTF-8', TERM: 'dumb' } },
    );
    nspawn.unref();
    const nspawnPid = nspawn.pid ?? 0;
    const timeoutMs = options.bootTimeoutMs ?? 60_000;
    leader = await until(
      "the container's init",
      async () => {
        if (!alive(nspawnPid)) throw new Error('systemd-nspawn exited');
        return (await childrenOf(nspawnPid))[0];
      },
      timeoutMs,
      100,
    );
    let state = '';
    await until(
      'systemctl is-system-running to answer running or degraded',
      async () => {
        if (!alive(nspawnPid)) throw new Error('systemd-nspawn exited');
        // multi-user.target reached is enough: is-system-running stays "starting" while any job of the machine's
        // own (a timer's first run, say) is still queued, which says nothing about the services under test.
        const answer = await exec('systemctl is-system-running; systemctl is-active multi-user.target', {
          timeoutMs: 5_000,
        });
        state = `${answer.stdout.trim()} ${answer.stderr.trim()}`.trim().replace(/\s+/g, ' ');
        return /^(running|degraded)\b/.test(state) || / active$/.test(state) ? state : undefined;
      },
      timeoutMs,
    ).catch((error: Error) => {
      throw new Error(`${error.message} (last answer: ${state})`);
    });
    container.bootMs = Date.now() - started;
    return container;
  } catch (error) {
    const tail = (await readFile(consoleLog, 'utf8').catch(() => '')).split('\n').slice(-30).join('\n');
    await shutdown();
    throw new Error(`the container did not boot: ${(error as Error).message}\nconsole:\n${tail}`);
  }
}
