import { appendFile } from 'node:fs/promises';

/**
 * Fills the filesystem holding `file` by appending to it until even a 1-byte append fails with ENOSPC (64 KiB, then
 * 4 KiB, then single bytes, so no free block is left over). For tests on a small tmpfs; delete `file` to free it.
 */
export async function fillFilesystem(file: string): Promise<void> {
  for (const chunk of [Buffer.alloc(64 * 1024, 1), Buffer.alloc(4096, 1), Buffer.alloc(1, 1)]) {
    for (;;) {
      try {
        await appendFile(file, chunk);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
        throw error;
      }
    }
  }
}
