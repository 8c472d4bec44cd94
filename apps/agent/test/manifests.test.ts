import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  auditDay,
  manifestText,
  ManifestJournal,
  parseLines,
  type DeletedLine,
  type UploadedLine,
} from '../src/manifests/index.js';
import { dateIn } from '../src/object-key.js';

const uploaded = (key: string, size = 10, sha256 = 'a'.repeat(64)): UploadedLine => ({
  type: 'uploaded',
  key,
  size,
  sha256,
  mtime: '2026-12-01T01:00:00.000Z',
  uploaded_at: '2026-12-01T02:00:00.000Z',
  path: `/logs/${key}`,
});
const deleted: DeletedLine = {
  type: 'deleted',
  path: '/logs/ros/big.bag',
  size: 5,
  mtime: '2026-12-01T00:00:00.000Z',
  policy: 'emergency',
  reason: 'disk 96% full',
  deleted_at: '2026-12-01T03:00:00.000Z',
};

describe('manifest lines', () => {
  it('keep recording order, one line per object (the last form) and per deleted file', () => {
    const journal = [uploaded('v/a'), deleted, uploaded('v/b'), uploaded('v/a', 20), deleted]
      .map((line) => `${JSON.stringify(line)}\n`)
      .join('');
    const { body, lines } = manifestText(`${journal}{"type":"uploaded","key":\n`);
    expect(lines).toBe(3);
    expect(
      body
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { key?: string; size: number }),
    ).toEqual([
      expect.objectContaining({ key: 'v/a', size: 20 }),
      expect.objectContaining({ type: 'deleted', path: '/logs/ros/big.bag' }),
      expect.objectContaining({ key: 'v/b' }),
    ]);
    // The same journal gives the same bytes: writing a day twice rewrites the same object.
    expect(manifestText(body)).toEqual({ body, lines: 3, malformed: 0 });
  });

  it('skip a torn or foreign line and count it', () => {
    const text = `${JSON.stringify(uploaded('v/a'))}\n{"type":"uploaded","key":\n{"type":"other"}\n`;
    expect(parseLines(text)).toEqual({ lines: [uploaded('v/a')], malformed: 2 });
  });

  it('audit: missing, extra (of the day only), differing and matched objects', () => {
    const dayStart = Date.parse('2026-12-01T00:00:00Z');
    const inDay = (ms: number) => ms >= dayStart && ms < dayStart + 86_400_000;
    const report = auditDay(
      '2026-12-01',
      [
        uploaded('v/2026-12-01/ros/a'),
        uploaded('v/2026-12-01/ros/b', 10),
        uploaded('v/2026-11-30/ros/c'),
        deleted,
      ],
      [
        { key: 'v/2026-12-01/ros/a', size: 10, lastModified: dayStart + 1 },
        { key: 'v/2026-12-01/ros/b', size: 11, lastModified: dayStart + 1 },
        { key: 'v/2026-12-01/ros/x', size: 3, lastModified: dayStart + 5 },
        { key: 'v/2026-12-01/ros/old', size: 3, lastModified: dayStart - 5 },
        { key: 'v/_manifests/2026-12-01.jsonl', size: 3, lastModified: dayStart + 5 },
      ],
      inDay,
    );
    expect(report).toEqual({
      date: '2026-12-01',
      missing: [uploaded('v/2026-11-30/ros/c')],
      extra: [{ key: 'v/2026-12-01/ros/x', size: 3, lastModified: dayStart + 5 }],
      differing: [{ key: 'v/2026-12-01/ros/b', manifestSize: 10, bucketSize: 11 }],
      matched: 1,
      deletedUnsent: 1,
    });
  });
});

describe('the manifest journal', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tvm-manifests-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const journal = () =>
    new ManifestJournal({
      directory: join(dir, 'manifests'),
      dateOf: (ms) => dateIn(ms, 'Asia/Shanghai'),
      commitDelayMs: 5,
    });

  it('files each line under the local day it happened, durable after flush, and survives a torn tail', async () => {
    const j = journal();
    // 23:59 and 00:01 in Shanghai (UTC+8): two local days.
    j.record(uploaded('v/a'), Date.parse('2026-11-30T15:59:00Z'));
    j.record(uploaded('v/b'), Date.parse('2026-11-30T16:01:00Z'));
    await j.flush();
    expect(await j.days()).toEqual([
      { date: '2026-11-30', sent: false },
      { date: '2026-12-01', sent: false },
    ]);
    // A power cut mid-append leaves half a line; the next append goes after it.
    await appendFile(join(dir, 'manifests', '2026-12-01.jsonl'), '{"type":"uplo');
    const again = journal();
    again.record(uploaded('v/c'), Date.parse('2026-12-01T01:00:00Z'));
    await again.flush();
    const day = await again.body('2026-12-01');
    expect(day.lines).toBe(1);
    expect(day.malformed).toBe(1);
    expect(day.body).toBe(`${JSON.stringify(uploaded('v/b'))}\n`);
  });

  it('marks sent days and prunes only sent days older than the retention', async () => {
    const j = journal();
    for (const day of ['2026-11-01', '2026-11-02', '2026-11-20']) {
      j.record(uploaded(`v/${day}`), Date.parse(`${day}T04:00:00Z`));
    }
    await j.flush();
    await j.markSent('2026-11-01', 'v/_manifests/2026-11-01.jsonl', 0);
    await j.markSent('2026-11-20', 'v/_manifests/2026-11-20.jsonl', 0);
    await j.prune('2026-11-17');
    expect(await j.days()).toEqual([
      { date: '2026-11-02', sent: false },
      { date: '2026-11-20', sent: true },
    ]);
    expect(await readFile(join(dir, 'manifests', '2026-11-20.sent'), 'utf8')).toContain('2026-11-20.jsonl');
  });
});
