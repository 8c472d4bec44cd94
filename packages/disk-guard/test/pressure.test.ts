import { describe, expect, it } from 'vitest';
import { assessPressure } from '../src/index.js';

const thresholds = { warningThreshold: 0.9, emergencyThreshold: 0.95, reservedBytes: 0 };
// A 1000-byte disk with `used` bytes in use and nothing reserved for root.
const disk = (used: number, capacity = 1000) => ({
  bsize: 1,
  blocks: capacity,
  bfree: capacity - used,
  bavail: capacity - used,
});

describe('assessPressure', () => {
  it.each([
    [500, 'ok', true, 0],
    [899, 'ok', true, 0],
    [900, 'warning', false, 1],
    [949, 'warning', false, 50],
    [950, 'critical', false, 51],
    [1000, 'critical', false, 101],
  ])('at %i of 1000 bytes used: %s, healthy %s, %i bytes to free', (used, level, healthy, bytesToFree) => {
    const pressure = assessPressure(disk(used), thresholds);
    expect(pressure).toMatchObject({ level, healthy, bytesToFree, usedBytes: used, freeBytes: 1000 - used });
  });

  it('computes the used fraction as df does, excluding blocks reserved for root', () => {
    // 100 blocks of 4 KiB: 50 used, 50 free of which 10 reserved for root.
    const pressure = assessPressure({ bsize: 4096, blocks: 100, bfree: 50, bavail: 40 }, thresholds);
    expect(pressure.usedFraction).toBeCloseTo(50 / 90);
    expect(pressure.freeBytes).toBe(40 * 4096);
    expect(pressure.totalBytes).toBe(100 * 4096);
  });

  it('counts a filesystem as healthy once the reserve is free, even above the warning threshold', () => {
    const pressure = assessPressure(disk(960), { ...thresholds, reservedBytes: 40 });
    expect(pressure).toMatchObject({ level: 'critical', healthy: true, bytesToFree: 0 });
  });

  it('frees toward whichever target is nearer: the reserve or the warning threshold', () => {
    expect(assessPressure(disk(970), { ...thresholds, reservedBytes: 40 }).bytesToFree).toBe(10);
    // A reserve larger than the disk can never be met: the warning threshold decides.
    expect(assessPressure(disk(970), { ...thresholds, reservedBytes: 5000 }).bytesToFree).toBe(71);
  });

  it('treats an empty filesystem as healthy', () => {
    expect(assessPressure({ bsize: 4096, blocks: 0, bfree: 0, bavail: 0 }, thresholds)).toMatchObject({
      usedFraction: 0,
      level: 'ok',
      healthy: true,
    });
  });
});
