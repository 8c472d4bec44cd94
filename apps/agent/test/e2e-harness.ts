import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(createRequire(import.meta.url).resolve('@tvm/test-utils/package.json'));
const tsxLoader = require.resolve('tsx');
const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));

/** A real `tvm-upload` process, its output split into lines. */
export interface AgentProcess {
  child: ChildProcess;
  pid: number;
  /** Every stdout and stderr line so far, journal priority prefixes included (`<6>Uploaded ...`). */
  lines: string[];
  /** Resolves with the first line (prefix stripped) matching `pattern`, waiting up to `ms`. */
  waitFor(pattern: RegExp | string, ms?: number): Promise<string>;
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>;
  /** Lines without their `<N>` prefix. */
  text(): string[];
}

// As systemd connects a service: stdout and stderr one stream, JOURNAL_STREAM naming its device:inode (the agent
// checks it against its own file descriptors, sd-daemon(3)). `exec` keeps the pid the agent's.
const AS_SYSTEMD = 'exec 2>&1; JOURNAL_STREAM="$(stat -L -c %d:%i /proc/$$/fd/1)" exec "$@"';

/**
 * Spawns `tvm-upload <args>` from the TypeScript sources, as systemd would run it (JOURNAL_STREAM set). `prefix` runs
 * it through another command that execs it (`['ip', 'netns', 'exec', name]`).
 */
export function spawnAgent(args: string[], env: NodeJS.ProcessEnv = {}, prefix: string[] = []): AgentProcess {
  const child = spawn(
    '/bin/sh',
    [
      '-c',
      AS_SYSTEMD,
      'sh',
      ...prefix,
      process.execPath,
      '--import',
      tsxLoader,
      '--conditions=@tvm/source',
      '--no-warnings',
      cli,
      ...args,
    ],
    {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  for (const stream of [child.stdout, child.stderr]) {
    let rest = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      rest += chunk;
      const parts = rest.split('\n');
      rest = parts.pop() ?? '';
      lines.push(...parts);
      for (const wake of waiters.splice(0)) wake();
    });
  }
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => {
      resolve(code ?? signal ?? -1);
      for (const wake of waiters.splice(0)) wake();
    });
  });
  const strip = (line: string) => line.replace(/^<\d>/, '');
  let exitedFlag = false;
  // `exited` never rejects.
  exited.then(
    () => (exitedFlag = true),
    () => undefined,
  );
  return {
    child,
    pid: child.pid ?? -1,
    lines,
    exited,
    text: () => lines.map(strip),
    async waitFor(pattern, ms = 15_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const found = lines
          .map(strip)
          .find((l) => (typeof pattern === 'string' ? l.includes(pattern) : pattern.test(l)));
        if (found !== undefined) return found;
        if (exitedFlag)
          throw new Error(`process exited before printing ${String(pattern)}:\n${lines.join('\n')}`);
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for ${String(pattern)}:\n${lines.join('\n')}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 100);
        });
      }
    },
  };
}
