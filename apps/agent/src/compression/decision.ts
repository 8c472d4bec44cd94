/**
 * Whether a file is compressed before it is sent, decided on its name and first bytes alone: pure, no I/O.
 * `log_directories[].compress` asks for it; files that would not shrink are sent as they are.
 */

/** `log_directories[].compress`. */
export type CompressionSetting = 'none' | 'gzip' | 'zstd';
/** An algorithm a file can be compressed with. */
export type CompressionAlgorithm = Exclude<CompressionSetting, 'none'>;

/** How much of a file's start is looked at (magic bytes) and compressed to judge whether compressing pays. */
export const SAMPLE_BYTES = 1024 * 1024;
/** A sample that compresses to more than this fraction of its size is not worth compressing. */
export const MAX_SAMPLE_RATIO = 0.9;

/** A format whose content is compressed already (or, for `mcap`/`rosbag`, usually is: its chunks are). */
export type CompressedFormat = 'gzip' | 'zstd' | 'xz' | 'bzip2' | 'lz4' | 'zip' | 'mcap' | 'rosbag';

const startsWith = (head: Uint8Array, magic: readonly number[], at = 0): boolean =>
  head.length >= at + magic.length && magic.every((byte, i) => head[at + i] === byte);

const ascii = (text: string): number[] => [...text].map((c) => c.charCodeAt(0));

/** Formats recognised by their first bytes, in the order they are tried. */
const MAGIC: ReadonlyArray<{ format: CompressedFormat; test: (head: Uint8Array) => boolean }> = [
  { format: 'gzip', test: (h) => startsWith(h, [0x1f, 0x8b]) },
  // A zstd frame, or a skippable frame (0x184D2A50..5F, little-endian) such as seekable zstd's.
  {
    format: 'zstd',
    test: (h) =>
      startsWith(h, [0x28, 0xb5, 0x2f, 0xfd]) ||
      (startsWith(h, [0x2a, 0x4d, 0x18], 1) && (h[0]! & 0xf0) === 0x50),
  },
  { format: 'xz', test: (h) => startsWith(h, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]) },
  {
    format: 'bzip2',
    test: (h) => startsWith(h, ascii('BZh')) && h.length > 3 && h[3]! >= 0x31 && h[3]! <= 0x39,
  },
  // LZ4 frame, and the legacy frame of `lz4 -l`.
  {
    format: 'lz4',
    test: (h) => startsWith(h, [0x04, 0x22, 0x4d, 0x18]) || startsWith(h, [0x02, 0x21, 0x4c, 0x18]),
  },
  // A local file header, an empty archive's end record, a spanned archive's marker.
  {
    format: 'zip',
    test: (h) =>
      startsWith(h, [0x50, 0x4b, 0x03, 0x04]) ||
      startsWith(h, [0x50, 0x4b, 0x05, 0x06]) ||
      startsWith(h, [0x50, 0x4b, 0x07, 0x08]),
  },
  { format: 'mcap', test: (h) => startsWith(h, [0x89, ...ascii('MCAP')]) },
  { format: 'rosbag', test: (h) => startsWith(h, ascii('#ROSBAG V')) },
];

/** Name endings of formats whose chunks are compressed, sent as they are whatever their first bytes. */
const EXTENSIONS: ReadonlyArray<{ suffix: string; format: CompressedFormat }> = [
  { suffix: '.mcap', format: 'mcap' },
  { suffix: '.bag', format: 'rosbag' },
];

/** The compressed format a file's first bytes show, if any (the name is not looked at). */
export function compressedFormatOf(head: Uint8Array): CompressedFormat | undefined {
  return MAGIC.find((m) => m.test(head))?.format;
}

/** What to do with one file. */
export type CompressionPlan =
  | { action: 'compress'; algorithm: CompressionAlgorithm }
  | { action: 'as-is'; reason: string }
  /** Compress the first {@link SAMPLE_BYTES} with `algorithm` and ask again with the result as `sample`. */
  | { action: 'sample'; algorithm: CompressionAlgorithm };

/** What {@link planCompression} decides on. */
export interface CompressionInput {
  setting: CompressionSetting;
  /** The file's name (the last path component). */
  name: string;
  /** The file's first bytes: up to {@link SAMPLE_BYTES} (fewer only when the file is shorter). */
  head: Uint8Array;
  /** `head` compressed with the setting's algorithm, once {@link planCompression} asked for it. */
  sample?: { bytes: number; compressedBytes: number };
}

/**
 * The plan for one file, in this order: compression off -> as is; a compressed format by magic bytes (under any
 * name) or a `.mcap`/`.bag` name -> as is; no sample yet -> `sample`; a sample that compresses to more than
 * {@link MAX_SAMPLE_RATIO} of its size (an empty file included) -> as is; otherwise compress.
 */
export function planCompression(input: CompressionInput): CompressionPlan {
  const { setting } = input;
  if (setting === 'none') return { action: 'as-is', reason: 'compression is off' };
  const magic = compressedFormatOf(input.head);
  if (magic) return { action: 'as-is', reason: `it is ${magic} data already (by its first bytes)` };
  const lower = input.name.toLowerCase();
  const named = EXTENSIONS.find((e) => lower.endsWith(e.suffix));
  if (named) return { action: 'as-is', reason: `a ${named.suffix} file's chunks are compressed already` };
  const { sample } = input;
  if (!sample) return { action: 'sample', algorithm: setting };
  if (sample.compressedBytes > sample.bytes * MAX_SAMPLE_RATIO) {
    const percent =
      sample.bytes === 0 ? 'more than 100' : ((sample.compressedBytes / sample.bytes) * 100).toFixed(1);
    return {
      action: 'as-is',
      reason: `its first ${sample.bytes} bytes compress to ${percent}% of their size (over ${MAX_SAMPLE_RATIO * 100}%)`,
    };
  }
  return { action: 'compress', algorithm: setting };
}
