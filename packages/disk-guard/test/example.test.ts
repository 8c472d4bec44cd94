import { fileURLToPath } from 'node:url';
import { runTypeScript } from '@tvm/test-utils';
import { describe, expect, it } from 'vitest';

describe('examples/basic.ts', () => {
  it('deletes the file uploaded last week, keeps the others and refuses a protected path', async () => {
    const { stdout } = await runTypeScript(fileURLToPath(new URL('../examples/basic.ts', import.meta.url)));
    expect(stdout.trim().split('\n')).toEqual([
      'would delete uploaded-last-week.log: after-upload',
      'deleted 1 file(s), 1000 bytes',
      'refused (protected-path): /var/log/syslog.1 is inside the protected system directory /var',
    ]);
  });
});
