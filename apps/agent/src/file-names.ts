import { isUtf8 } from 'node:buffer';

/**
 * File names as the agent holds them. Linux names are bytes; most are UTF-8, but a vehicle may also carry names
 * written in GBK or Latin-1, which Node's string APIs would decode with U+FFFD and then never find again. Inside
 * the agent and in its state files every name is a JS string in which each byte that is not part of valid UTF-8
 * is the lone surrogate U+DC80 + byte (PEP 383 "surrogateescape", as Python's `os.fsdecode`). JSON writes those
 * as `\udcXX` escapes, so queue.json stays valid JSON. Every fs call on such a path goes through
 * {@link encodeFileName}; a valid name costs nothing, it stays a plain string.
 */

const ESCAPE_BASE = 0xdc00;

/** The byte length of the valid UTF-8 sequence at `i`, or 0 when the byte there does not start one (RFC 3629). */
function sequenceLength(bytes: Uint8Array, i: number): number {
  const b0 = bytes[i]!;
  if (b0 < 0x80) return 1;
  const continuation = (j: number, low = 0x80, high = 0xbf): boolean => {
    const b = bytes[i + j];
    return b !== undefined && b >= low && b <= high;
  };
  if (b0 >= 0xc2 && b0 <= 0xdf) return continuation(1) ? 2 : 0;
  if (b0 >= 0xe0 && b0 <= 0xef) {
    // No overlong forms (E0 80..9F) and no encoded surrogates (ED A0..BF): those bytes are escaped one by one.
    const low = b0 === 0xe0 ? 0xa0 : 0x80;
    const high = b0 === 0xed ? 0x9f : 0xbf;
    return continuation(1, low, high) && continuation(2) ? 3 : 0;
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    const low = b0 === 0xf0 ? 0x90 : 0x80;
    const high = b0 === 0xf4 ? 0x8f : 0xbf;
    return continuation(1, low, high) && continuation(2) && continuation(3) ? 4 : 0;
  }
  return 0;
}

/**
 * A name (or path) as the file system returned it, as the agent's string: valid UTF-8 decoded as such, every other
 * byte as U+DC80 + byte. Exact: `encodeFileName(decodeFileName(bytes))` gives back `bytes`, whatever they are.
 */
export function decodeFileName(bytes: Uint8Array): string {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (isUtf8(buffer)) return buffer.toString('utf8');
  let text = '';
  let start = 0; // the valid run not yet copied
  for (let i = 0; i < buffer.length;) {
    const length = sequenceLength(buffer, i);
    if (length > 0) {
      i += length;
      continue;
    }
    text += buffer.toString('utf8', start, i) + String.fromCharCode(ESCAPE_BASE + buffer[i]!);
    i += 1;
    start = i;
  }
  return text + buffer.toString('utf8', start);
}

/** Thrown by {@link encodeFileName} for a string that names no file: see there. */
export class FileNameError extends Error {
  override readonly name = 'FileNameError';
  /** Like the system's own refusal of an invalid name, so callers treat it as an unusable path. */
  readonly code = 'EILSEQ';
}

/**
 * The bytes a name stands for, as fs calls take them: the string itself when it is well-formed (valid UTF-8 names,
 * the common case, cost nothing), otherwise a Buffer with each U+DC80..U+DCFF turned back into its byte.
 * @throws {FileNameError} (code `EILSEQ`) for a string {@link decodeFileName} never returns: another lone surrogate,
 *   or escapes that spell valid UTF-8 (`\udcc3\udca9` would be the bytes of `é`, which decode as `é`). So two
 *   different strings never name the same file: a hand-edited queue entry cannot reach a file by an alias.
 */
export function encodeFileName(name: string): string | Buffer {
  if (name.isWellFormed()) return name;
  const bytes: number[] = [];
  for (const char of name) {
    const code = char.codePointAt(0)!;
    if (code >= 0xdc80 && code <= 0xdcff) bytes.push(code - ESCAPE_BASE);
    else if (code >= 0xd800 && code <= 0xdfff) {
      throw new FileNameError(
        `${JSON.stringify(name)} is not a file name: it contains U+${code.toString(16).toUpperCase()}, which stands for no byte`,
      );
    } else for (const byte of Buffer.from(char, 'utf8')) bytes.push(byte);
  }
  const buffer = Buffer.from(bytes);
  if (decodeFileName(buffer) !== name) {
    throw new FileNameError(
      `${JSON.stringify(name)} is not a file name: its escaped bytes form valid UTF-8, which is written as text`,
    );
  }
  return buffer;
}

/** True when `name` holds bytes that are not valid UTF-8 (escaped as U+DC80..U+DCFF). */
export function hasEscapedBytes(name: string): boolean {
  return !name.isWellFormed();
}

/** `name` for people: each escaped byte shown as `\xNN` (a log line must not turn it into U+FFFD). */
export function displayFileName(name: string): string {
  if (name.isWellFormed()) return name;
  return name.replace(/[\udc80-\udcff]/gu, (char) => `\\x${(char.charCodeAt(0) - ESCAPE_BASE).toString(16)}`);
}

/**
 * The pair the libraries take as their `pathEncoding` option (`@tvm/disk-guard`, `@tvm/s3-uploader`): their string
 * paths reach the file system through {@link encodeFileName}, and what the kernel returns (realpath, /proc links)
 * comes back through {@link decodeFileName}, so the agent, its state files and the libraries share one form.
 */
export const fileNameEncoding = {
  toFs: encodeFileName,
  fromFs: decodeFileName,
} as const;
