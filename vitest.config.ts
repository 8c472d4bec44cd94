import { defineConfig } from 'vitest/config';
import { projects } from './vitest.workspace.js';

export default defineConfig({
  test: {
    projects,
    // Most suites wait on real processes, sockets and disks rather than the CPU: on the 2-core machines (where the
    // default is one worker) three files at a time take about half the wall time.
    maxWorkers: 3,
  },
});
