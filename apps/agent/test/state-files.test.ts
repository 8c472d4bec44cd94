import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readScheduleRecord, writeScheduleRecord } from '../src/adapters/schedule-file.js';
import { readAgentStatus, writeAgentStatus, type AgentStatus } from '../src/commands/agent-status.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});
const temp = async () => {
  const dir = await mkdtemp(join(tmpdir(), 'agent-state-files-'));
  dirs.push(dir);
  return dir;
};

describe('writeScheduleRecord', () => {
  it('writes the record it reads back', async () => {
    const file = join(await temp(), 'schedule.json');
    await writeScheduleRecord(file, { daily_upload: '2025-10-20' });
    expect(await readScheduleRecord(file)).toEqual({ daily_upload: '2025-10-20' });
  });

  it('leaves no temp file behind when the write fails', async () => {
    const dir = await temp();
    const file = join(dir, 'schedule.json');
    // A directory in the way makes the rename fail, as a full or read-only disk makes some step fail.
    await mkdir(file);
    await expect(writeScheduleRecord(file, { daily_upload: '2025-10-20' })).rejects.toMatchObject({
      code: 'WRITE_FAILED',
    });
    expect(await readdir(dir)).toEqual(['schedule.json']);
  });
});

describe('writeAgentStatus', () => {
  const status: AgentStatus = {
    pid: 1,
    version: '0.0.0',
    startedAt: 1,
    updatedAt: 2,
    destination: { state: 'online' },
  };

  it('survives overlapping writes whole, with no temp file left', async () => {
    const dir = await temp();
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => writeAgentStatus(dir, { ...status, updatedAt: i })),
    );
    expect((await readAgentStatus(dir))?.pid).toBe(1);
    expect(await readdir(dir)).toEqual(['agent-status.json']);
  });
});
