import { fileURLToPath } from 'node:url';
import { runTypeScript } from '@tvm/test-utils';
import { describe, expect, it } from 'vitest';

describe('examples/basic.ts', () => {
  it('prints the classification, the retry line and the permanent failure', async () => {
    const { stdout } = await runTypeScript(fileURLToPath(new URL('../examples/basic.ts', import.meta.url)));
    expect(stdout.trim().split('\n')).toEqual([
      'temporary throttled: SlowDown: Please reduce your request rate.',
      'Retry 4/10 (next attempt in 8s)',
      'PERMANENT FAILURE: File not found: /var/log/old.log',
    ]);
  });
});
