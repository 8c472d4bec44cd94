import { basename } from 'node:path';
import type { UserWorkspaceConfig } from 'vitest/config';

/**
 * The settings every package's test project shares. Sibling packages resolve to their TypeScript sources
 * through the `@tvm/source` export condition, so a package's suite runs without building its dependencies.
 */
export function sharedProject(dir: string, overrides: UserWorkspaceConfig['test'] = {}): UserWorkspaceConfig {
  return {
    resolve: { conditions: ['@tvm/source'] },
    ssr: { resolve: { conditions: ['@tvm/source'] } },
    test: {
      name: basename(dir),
      root: dir,
      include: ['test/**/*.test.ts'],
      environment: 'node',
      // The SDK warns on every client that releases after January 2027 need Node 22; the noise hides real output.
      env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      testTimeout: 30_000,
      hookTimeout: 30_000,
      ...overrides,
    },
  };
}
