import { describe, expect, it } from 'vitest';
import { compressedFormatOf, planCompression, type CompressionInput } from '../src/compression/decision.js';
import { compressedObjectKey } from '../src/object-key.js';

const bytes = (...b: number[]) => Uint8Array.from(b);
const text = (s: string) => new TextEncoder().encode(s);
const input = (over: Partial<CompressionInput> = {}): CompressionInput => ({
  setting: 'gzip',
  name: 'ros.log',
  head: text('[INFO] [1700000000.0] node started\n'),
  ...over,
});

describe('compressedFormatOf (magic bytes)', () => {
  it.each([
    ['gzip', bytes(0x1f, 0x8b, 0x08, 0x00)],
    ['zstd', bytes(0x28, 0xb5, 0x2f, 0xfd, 0x24)],
    ['zstd', bytes(0x50, 0x2a, 0x4d, 0x18, 0x04)], // a skippable frame (seekable zstd)
    ['zstd', bytes(0x5e, 0x2a, 0x4d, 0x18)],
    ['xz', bytes(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00)],
    ['bzip2', text('BZh91AY&SY')],
    ['lz4', bytes(0x04, 0x22, 0x4d, 0x18, 0x64)],
    ['lz4', bytes(0x02, 0x21, 0x4c, 0x18)],
    ['zip', bytes(0x50, 0x4b, 0x03, 0x04, 0x14)],
    ['zip', bytes(0x50, 0x4b, 0x05, 0x06)],
    ['zip', bytes(0x50, 0x4b, 0x07, 0x08)],
    ['mcap', bytes(0x89, 0x4d, 0x43, 0x41, 0x50, 0x30, 0x0d, 0x0a)],
    ['rosbag', text('#ROSBAG V2.0\n')],
  ])('recognises %s', (format, head) => {
    expect(compressedFormatOf(head)).toBe(format);
  });

  it.each([
    ['plain text', text('hello world\n')],
    ['empty', bytes()],
    ['one gzip byte', bytes(0x1f)],
    ['BZh without a block size', text('BZhx')],
    ['a truncated xz magic', bytes(0xfd, 0x37, 0x7a, 0x58, 0x5a)],
    ['a byte that is not a skippable frame', bytes(0x60, 0x2a, 0x4d, 0x18)],
    ['PK that is not a zip record', bytes(0x50, 0x4b, 0x01, 0x02)],
  ])('finds nothing in %s', (_, head) => {
    expect(compressedFormatOf(head)).toBeUndefined();
  });
});

describe('planCompression', () => {
  it('sends everything as is when compression is off', () => {
    expect(planCompression(input({ setting: 'none' }))).toEqual({
      action: 'as-is',
      reason: 'compression is off',
    });
  });

  it('sends gzip data as is under any name (a .log that is gzip)', () => {
    const plan = planCompression(input({ name: 'syslog.log', head: bytes(0x1f, 0x8b, 0x08, 0, 0, 0) }));
    expect(plan).toEqual({ action: 'as-is', reason: 'it is gzip data already (by its first bytes)' });
  });

  it('sends zstd-compressed data as is even when zstd is asked for', () => {
    expect(planCompression(input({ setting: 'zstd', head: bytes(0x28, 0xb5, 0x2f, 0xfd) })).action).toBe(
      'as-is',
    );
  });

  it.each(['drive.mcap', 'DRIVE.BAG', 'run_2025-10-20.bag'])('sends %s as is by its name', (name) => {
    const plan = planCompression(input({ name, sample: { bytes: 1000, compressedBytes: 10 } }));
    expect(plan.action).toBe('as-is');
    expect(plan).toHaveProperty('reason', expect.stringMatching(/chunks are compressed already/));
  });

  it('does not take a name merely containing .bag for a bag', () => {
    expect(planCompression(input({ name: 'x.bag.txt' }))).toEqual({ action: 'sample', algorithm: 'gzip' });
  });

  it('asks for a sample before deciding to compress', () => {
    expect(planCompression(input({ setting: 'zstd' }))).toEqual({ action: 'sample', algorithm: 'zstd' });
  });

  it('compresses a file whose sample shrinks to 90% or less', () => {
    expect(planCompression(input({ sample: { bytes: 1000, compressedBytes: 900 } }))).toEqual({
      action: 'compress',
      algorithm: 'gzip',
    });
    expect(
      planCompression(input({ setting: 'zstd', sample: { bytes: 1000, compressedBytes: 120 } })),
    ).toEqual({
      action: 'compress',
      algorithm: 'zstd',
    });
  });

  it('sends a file whose sample compresses to more than 90% as is', () => {
    expect(planCompression(input({ sample: { bytes: 1000, compressedBytes: 901 } }))).toEqual({
      action: 'as-is',
      reason: 'its first 1000 bytes compress to 90.1% of their size (over 90%)',
    });
    expect(planCompression(input({ sample: { bytes: 1000, compressedBytes: 1020 } }))).toHaveProperty(
      'reason',
      'its first 1000 bytes compress to 102.0% of their size (over 90%)',
    );
  });

  it('sends an empty file as is (nothing to gain)', () => {
    expect(planCompression(input({ head: bytes(), sample: { bytes: 0, compressedBytes: 20 } }))).toEqual({
      action: 'as-is',
      reason: 'its first 0 bytes compress to more than 100% of their size (over 90%)',
    });
  });

  it('judges magic bytes before the sample', () => {
    const plan = planCompression(
      input({ head: bytes(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00), sample: { bytes: 100, compressedBytes: 1 } }),
    );
    expect(plan).toEqual({ action: 'as-is', reason: 'it is xz data already (by its first bytes)' });
  });
});

describe('compressedObjectKey', () => {
  it('appends exactly .gz or .zst, whatever the key ends in', () => {
    expect(compressedObjectKey('v/2025-10-20/ros/a.log', 'gzip')).toBe('v/2025-10-20/ros/a.log.gz');
    expect(compressedObjectKey('v/2025-10-20/ros/a.log', 'zstd')).toBe('v/2025-10-20/ros/a.log.zst');
    expect(compressedObjectKey('v/d/s/noext', 'gzip')).toBe('v/d/s/noext.gz');
    expect(compressedObjectKey('v/d/s/already.gz', 'gzip')).toBe('v/d/s/already.gz.gz');
  });
});
