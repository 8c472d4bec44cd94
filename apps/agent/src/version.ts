import { execFileSync } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The agent's version, printed by `tvm-upload --version`. */
export const VERSION = '0.0.0';

/** Set by scripts/bundle.ts (esbuild `define`) to the commit the vehicle build was made from; absent from sources. */
declare const __TVM_BUILD_COMMIT__: string | undefined;

/**
 * The commit a build was made from: the bundle's, fixed at bundle time (`git rev-parse --short HEAD`, or `unknown`
 * outside git); when running from the sources, the checkout's current commit, or `source` when git cannot tell.
 */
export function buildCommit(): string {
  if (typeof __TVM_BUILD_COMMIT__ === 'string') return __TVM_BUILD_COMMIT__;
  return gitCommit(dirname(fileURLToPath(import.meta.url))) ?? 'source';
}

/** `git rev-parse --short HEAD` in `cwd`, or undefined (no git, not a checkout). */
export function gitCommit(cwd: string): string | undefined {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 5000,
    }).trim();
    return /^[0-9a-f]{4,40}$/.test(commit) ? commit : undefined;
  } catch {
    return undefined;
  }
}

/** What `tvm-upload --version` prints: `0.0.0 (commit 1a2b3c4)`. */
export function versionLine(): string {
  return `${VERSION} (commit ${buildCommit()})`;
}
