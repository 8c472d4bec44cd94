import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const tsxLoader = createRequire(import.meta.url).resolve('tsx');

/**
 * Runs a TypeScript file (a package's `examples/basic.ts`) in a real Node process, resolving `@tvm/*` imports to
 * their sources, and returns what it printed.
 */
export async function runTypeScript(
  file: string,
  options: { args?: string[]; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<{ stdout: string; stderr: string }> {
  return execFileAsync(
    process.execPath,
    ['--import', tsxLoader, '--conditions=@tvm/source', '--no-warnings', file, ...(options.args ?? [])],
    {
      env: { ...process.env, ...options.env },
      timeout: options.timeoutMs ?? 60_000,
      maxBuffer: 16 * 1024 * 1024,
    },
  );
}
