import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isUploaded, orderForPressure, selectAfterUpload, selectAgeBased } from '../src/index.js';
import type { Candidate } from '../src/index.js';
import { DAY } from './helpers.js';

const NOW = Date.UTC(2025, 9, 20);
const file = (name: string, extra: Partial<Candidate> = {}): Candidate => ({
  path: `/logs/${name}`,
  size: 100,
  mtimeMs: NOW - 30 * DAY,
  pending: false,
  ...extra,
});

const paths = (list: { candidate: Candidate }[]) => list.map((s) => s.candidate.path.slice('/logs/'.length));

describe('selectAfterUpload', () => {
  const candidates = [
    file('uploaded-8d', { uploadedAt: NOW - 8 * DAY }),
    file('uploaded-7d', { uploadedAt: NOW - 7 * DAY }),
    file('uploaded-6d', { uploadedAt: NOW - 6 * DAY }),
    file('never-uploaded'),
    file('requeued', { uploadedAt: NOW - 20 * DAY, pending: true }),
  ];

  it('selects files uploaded at least keepDays ago, counting from the upload time, not the mtime', () => {
    const selected = selectAfterUpload(candidates, { keepDays: 7, now: NOW });
    expect(paths(selected)).toEqual(['uploaded-8d', 'uploaded-7d']);
    expect(selected[0]).toMatchObject({
      policy: 'after-upload',
      uploaded: true,
      reason: 'uploaded 8.0 days ago (keep_days 7)',
    });
  });

  it('selects every uploaded file right after upload when keepDays is 0', () => {
    const justNow = file('just-now', { uploadedAt: NOW });
    expect(paths(selectAfterUpload([...candidates, justNow], { keepDays: 0, now: NOW }))).toEqual([
      'uploaded-8d',
      'uploaded-7d',
      'uploaded-6d',
      'just-now',
    ]);
  });

  it('treats an upload time in the future (clock set back) as age zero', () => {
    const future = [file('future', { uploadedAt: NOW + 3 * DAY })];
    expect(selectAfterUpload(future, { keepDays: 1, now: NOW })).toEqual([]);
    expect(paths(selectAfterUpload(future, { keepDays: 0, now: NOW }))).toEqual(['future']);
  });

  it('never selects a pending file, even one uploaded before', () => {
    expect(paths(selectAfterUpload(candidates, { keepDays: 0, now: NOW + 3650 * DAY }))).not.toContain(
      'requeued',
    );
  });
});

describe('selectAgeBased', () => {
  it('selects old uploaded files only: a failed, queued or never-uploaded file is left to the emergency policy', () => {
    const selected = selectAgeBased(
      [
        file('old-uploaded', { uploadedAt: NOW - 20 * DAY }),
        file('old-failed'),
        file('old-failed-uploaded-before', { uploadedAt: NOW - 20 * DAY, pending: true }),
        file('old-pending', { pending: true }),
        file('young', { mtimeMs: NOW - 13 * DAY, uploadedAt: NOW - 13 * DAY }),
      ],
      { maxAgeDays: 14, now: NOW },
    );
    expect(paths(selected)).toEqual(['old-uploaded']);
    expect(selected[0]).toMatchObject({
      uploaded: true,
      reason: 'modified 30.0 days ago (max_age_days 14)',
    });
  });

  it('never selects a pending or never-uploaded file, whatever the clock says', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            name: fc.string({ minLength: 1, maxLength: 8 }),
            mtimeMs: fc.integer({ min: 0, max: NOW }),
            pending: fc.boolean(),
            uploadedAt: fc.option(fc.integer({ min: 0, max: NOW }), { nil: undefined }),
          }),
        ),
        fc.integer({ min: NOW - 100 * 365 * DAY, max: NOW + 100 * 365 * DAY }),
        fc.integer({ min: 0, max: 365 }),
        (records, now, maxAgeDays) => {
          const candidates = records.map(({ name, mtimeMs, pending, uploadedAt }) =>
            file(name, uploadedAt === undefined ? { mtimeMs, pending } : { mtimeMs, pending, uploadedAt }),
          );
          for (const selection of selectAgeBased(candidates, { maxAgeDays, now })) {
            expect(selection.candidate.pending).toBe(false);
            expect(selection.candidate.uploadedAt).toBeDefined();
          }
          for (const selection of selectAfterUpload(candidates, { keepDays: maxAgeDays, now })) {
            expect(selection.candidate.pending).toBe(false);
          }
        },
      ),
    );
  });

  it('selects no young file after the clock jumps back years (negative age is zero)', () => {
    expect(
      selectAgeBased([file('fresh', { mtimeMs: NOW })], { maxAgeDays: 14, now: NOW - 5 * 365 * DAY }),
    ).toEqual([]);
  });

  it('selects all uploaded files after the clock jumps forward by years, and still no pending one', () => {
    const candidates = [
      file('a', { mtimeMs: NOW, uploadedAt: NOW }),
      file('b', { mtimeMs: NOW, pending: true }),
    ];
    expect(paths(selectAgeBased(candidates, { maxAgeDays: 14, now: NOW + 10 * 365 * DAY }))).toEqual(['a']);
  });
});

describe('orderForPressure', () => {
  const candidates = [
    file('pending-old', { mtimeMs: NOW - 40 * DAY, pending: true }),
    file('uploaded-new', { mtimeMs: NOW - 1 * DAY, uploadedAt: NOW }),
    file('failed-mid', { mtimeMs: NOW - 10 * DAY }),
    file('uploaded-old', { mtimeMs: NOW - 9 * DAY, uploadedAt: NOW - 8 * DAY }),
    file('requeued', { mtimeMs: NOW - 50 * DAY, uploadedAt: NOW - 49 * DAY, pending: true }),
  ];

  it('orders uploaded files oldest first, then not-yet-uploaded files oldest first at the critical level', () => {
    const ordered = orderForPressure(candidates, 'critical');
    expect(paths(ordered)).toEqual(['uploaded-old', 'uploaded-new', 'requeued', 'pending-old', 'failed-mid']);
    expect(ordered.map((s) => s.uploaded)).toEqual([true, true, false, false, false]);
    expect(ordered[2]?.reason).toContain('DATA LOSS');
  });

  it('offers only uploaded files at the warning level', () => {
    expect(paths(orderForPressure(candidates, 'warning'))).toEqual(['uploaded-old', 'uploaded-new']);
  });

  it('counts a re-queued file as not uploaded', () => {
    expect(isUploaded(file('x', { uploadedAt: NOW, pending: true }))).toBe(false);
  });
});
