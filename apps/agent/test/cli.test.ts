import { fileURLToPath } from 'node:url';
import { runTypeScript } from '@tvm/test-utils';
import { describe, expect, it } from 'vitest';

const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));

describe('tvm-upload', () => {
  it('prints its version', async () => {
    const { stdout } = await runTypeScript(cli, { args: ['--version'] });
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
