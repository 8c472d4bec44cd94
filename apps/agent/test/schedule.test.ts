import { describe, expect, it } from 'vitest';
import { dailyDue, insideOperationalHours, latestOccurrence, withinWindow } from '../src/schedule.js';

const at = (iso: string) => Date.parse(iso);

describe('withinWindow', () => {
  it.each([
    ['09:00', '18:00', '08:59', false],
    ['09:00', '18:00', '09:00', true],
    ['09:00', '18:00', '17:59', true],
    ['09:00', '18:00', '18:00', false],
    ['22:00', '06:00', '23:30', true],
    ['22:00', '06:00', '00:00', true],
    ['22:00', '06:00', '05:59', true],
    ['22:00', '06:00', '06:00', false],
    ['22:00', '06:00', '12:00', false],
    ['00:00', '00:00', '12:00', true],
  ])('window %s-%s contains %s: %s', (start, end, time, expected) => {
    const [h, m] = time.split(':').map(Number);
    expect(withinWindow((h ?? 0) * 60 + (m ?? 0), start, end)).toBe(expected);
  });
});

describe('insideOperationalHours', () => {
  it('judges hours in the configured zone and allows any time when disabled', () => {
    const hours = { enabled: true, start: '09:00', end: '18:00' };
    // 02:00 UTC is 10:00 in Shanghai.
    expect(insideOperationalHours(at('2025-10-20T02:00:00Z'), hours, 'Asia/Shanghai')).toBe(true);
    expect(insideOperationalHours(at('2025-10-20T02:00:00Z'), hours, 'UTC')).toBe(false);
    expect(insideOperationalHours(at('2025-10-20T02:00:00Z'), { ...hours, enabled: false }, 'UTC')).toBe(
      true,
    );
  });
});

describe('dailyDue', () => {
  it('is due once the daily time has passed, and not again the same day', () => {
    expect(dailyDue(at('2025-10-20T14:59:00Z'), '15:00', 'UTC', '2025-10-19')).toEqual({
      due: false,
      occurrence: '2025-10-19',
    });
    expect(dailyDue(at('2025-10-20T15:00:00Z'), '15:00', 'UTC', '2025-10-19')).toEqual({
      due: true,
      occurrence: '2025-10-20',
    });
    expect(dailyDue(at('2025-10-20T23:00:00Z'), '15:00', 'UTC', '2025-10-20')).toEqual({
      due: false,
      occurrence: '2025-10-20',
    });
  });

  it('catches up a run missed while the vehicle was off', () => {
    // Off from the 18th to the 20th at 10:00: yesterday's 15:00 run was missed, so it runs now.
    expect(dailyDue(at('2025-10-20T10:00:00Z'), '15:00', 'UTC', '2025-10-17')).toEqual({
      due: true,
      occurrence: '2025-10-19',
    });
    // And after that catch-up, today's 15:00 run still happens.
    expect(dailyDue(at('2025-10-20T15:30:00Z'), '15:00', 'UTC', '2025-10-19').due).toBe(true);
  });

  it('is due at first start with no record', () => {
    expect(dailyDue(at('2025-10-20T10:00:00Z'), '15:00', 'UTC', undefined).due).toBe(true);
  });

  it('crosses month and year boundaries', () => {
    expect(latestOccurrence(at('2025-01-01T01:00:00Z'), '02:00', 'UTC')).toBe('2024-12-31');
    expect(latestOccurrence(at('2025-03-01T01:00:00Z'), '02:00', 'UTC')).toBe('2025-02-28');
  });
});
