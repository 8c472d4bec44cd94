import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { nodeFlagsOf } from '../scripts/bundle.js';

const MiB = 1024 * 1024;
const source = (path: string) => readFile(fileURLToPath(new URL(path, import.meta.url)), 'utf8');

/** `MemoryMax=512M` (systemd.resource-control(5): K, M, G, T suffixes, base 1024) in bytes. */
function memoryMax(unit: string): number {
  const match = /^MemoryMax=(\d+)([KMGT]?)$/m.exec(unit);
  if (!match) throw new Error('the unit sets no MemoryMax');
  return Number(match[1]) * 1024 ** ' KMGT'.indexOf(match[2] || ' ');
}

describe('the launcher’s heap settings', () => {
  it('bound the heap so that it fits the unit’s MemoryMax, with room for code, stacks and buffers', async () => {
    const flags = nodeFlagsOf(await source('../src/cli.ts'));
    const value = (name: string) => {
      const flag = flags.find((f) => f.startsWith(`--${name}=`));
      return flag === undefined ? undefined : Number(flag.split('=')[1]) * MiB;
    };
    const oldSpace = value('max-old-space-size');
    const semiSpace = value('max-semi-space-size');
    // Without a limit V8 sizes the old generation from the machine's memory (GBs), far past the unit's limit:
    // the kernel would kill the agent mid-upload instead of V8 collecting garbage harder.
    expect(oldSpace, 'a --max-old-space-size').toBeDefined();
    expect(semiSpace, 'a --max-semi-space-size').toBeDefined();
    // The young generation is three semi-spaces; 128 MiB for code, stacks, the SDK's sockets and part buffers
    // outside the heap (4 files x 4 parts x 8 MiB at the defaults).
    const limit = memoryMax(await source('../../../deploy/systemd/tvm-upload.service'));
    expect((oldSpace as number) + 3 * (semiSpace as number) + 128 * MiB).toBeLessThanOrEqual(limit);
  });
});
