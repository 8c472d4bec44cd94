import { defineProject } from 'vitest/config';
import { sharedProject } from '../../../../vitest.shared.js';

/**
 * The booted-systemd suite (`pnpm --filter @tvm/agent test:vehicle`): its files end in `.vehicle.ts`, so the fast
 * `pnpm test` (which includes `test/**\/*.test.ts`) never picks them up. One container serves the whole suite.
 */
export default defineProject(
  sharedProject(new URL('../..', import.meta.url).pathname.replace(/\/$/, ''), {
    name: 'agent-vehicle',
    include: ['test/vehicle/**/*.vehicle.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    fileParallelism: false,
  }),
);
