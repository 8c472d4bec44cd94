/** The one list of test projects; vitest.config.ts imports it (Vitest 4 no longer reads this file by itself). */
export const projects = ['packages/*/vitest.config.ts', 'apps/*/vitest.config.ts'];
