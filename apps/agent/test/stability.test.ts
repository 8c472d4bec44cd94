import { describe, expect, it } from 'vitest';
import { StabilityTracker } from '../src/stability.js';

describe('StabilityTracker', () => {
  const now0 = Date.UTC(2025, 9, 20, 12);

  it('makes a growing file wait and releases it after the stable period', () => {
    const tracker = new StabilityTracker(60_000);
    expect(tracker.observe('/a', { size: 10, mtimeMs: now0 }, now0)).toBe('waiting');
    expect(tracker.observe('/a', { size: 20, mtimeMs: now0 + 30_000 }, now0 + 30_000)).toBe('waiting');
    // Unchanged for 59 s: still waiting.
    expect(tracker.observe('/a', { size: 20, mtimeMs: now0 + 30_000 }, now0 + 89_000)).toBe('waiting');
    expect(tracker.readyAt('/a')).toBe(now0 + 90_000);
    expect(tracker.observe('/a', { size: 20, mtimeMs: now0 + 30_000 }, now0 + 90_000)).toBe('ready');
    expect(tracker.has('/a')).toBe(false);
  });

  it('treats a change of mtime alone as a change', () => {
    const tracker = new StabilityTracker(60_000);
    tracker.observe('/a', { size: 10, mtimeMs: now0 }, now0);
    expect(tracker.observe('/a', { size: 10, mtimeMs: now0 + 50_000 }, now0 + 50_000)).toBe('waiting');
    expect(tracker.observe('/a', { size: 10, mtimeMs: now0 + 50_000 }, now0 + 100_000)).toBe('waiting');
    expect(tracker.observe('/a', { size: 10, mtimeMs: now0 + 50_000 }, now0 + 110_000)).toBe('ready');
  });

  it('releases a file whose mtime is already older than the stable period', () => {
    const tracker = new StabilityTracker(60_000);
    expect(tracker.observe('/old', { size: 5, mtimeMs: now0 - 3_600_000 }, now0)).toBe('ready');
  });

  it('forgets a file that disappears', () => {
    const tracker = new StabilityTracker(60_000);
    tracker.observe('/a', { size: 1, mtimeMs: now0 }, now0);
    expect(tracker.observe('/a', undefined, now0 + 1)).toBe('gone');
    expect(tracker.size).toBe(0);
  });
});
