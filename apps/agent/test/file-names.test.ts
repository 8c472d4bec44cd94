import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeFileName, displayFileName, encodeFileName, FileNameError } from '../src/file-names.js';

const bytes = (...values: number[]) => Buffer.from(values);

describe('decodeFileName', () => {
  // The same answers as Python's `os.fsdecode` (surrogateescape) on Linux.
  it.each([
    ['plain ASCII', Buffer.from('syslog.1'), 'syslog.1'],
    ['valid UTF-8 (Chinese)', Buffer.from('日志.log'), '日志.log'],
    ['a 4-byte sequence', bytes(0xf0, 0x9f, 0x98, 0x80), '\u{1F600}'],
    ['Latin-1 é', bytes(0x63, 0x61, 0x66, 0xe9), 'caf\udce9'],
    // D6 BE happens to be valid UTF-8 (U+05BE): only C8 and D5 are escaped, as Python does.
    ['GBK 日志', bytes(0xc8, 0xd5, 0xd6, 0xbe, 0x2e, 0x6c, 0x6f, 0x67), '\udcc8\udcd5\u05be.log'],
    ['GBK 文件 (C4 BC is U+013C)', bytes(0xce, 0xc4, 0xbc, 0xfe), '\udcce\u013c\udcfe'],
    ['GBK 测试', bytes(0xb2, 0xe2, 0xca, 0xd4), '\udcb2\udce2\udcca\udcd4'],
    ['an overlong slash', bytes(0xc0, 0xaf), '\udcc0\udcaf'],
    ['an encoded surrogate (CESU-8)', bytes(0xed, 0xa0, 0x80), '\udced\udca0\udc80'],
    ['a truncated sequence', bytes(0xe6, 0x97, 0x41), '\udce6\udc97A'],
    ['a lone continuation byte', bytes(0x80), '\udc80'],
    ['a code point above U+10FFFF', bytes(0xf4, 0x90, 0x80, 0x80), '\udcf4\udc90\udc80\udc80'],
    ['the bytes of U+FFFD itself', bytes(0xef, 0xbf, 0xbd), '\ufffd'],
  ])('decodes %s', (what, input, expected) => {
    expect(decodeFileName(input)).toBe(expected);
    expect(Buffer.from(encodeFileName(expected)).equals(input)).toBe(true);
  });

  it('gives back the exact bytes of any name through encodeFileName', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (input) => {
        const name = decodeFileName(input);
        expect(Buffer.from(encodeFileName(name)).equals(Buffer.from(input))).toBe(true);
        expect(decodeFileName(Buffer.from(encodeFileName(name)))).toBe(name);
      }),
      { numRuns: 2000 },
    );
  });

  it('maps different bytes to different strings', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 16 }), fc.uint8Array({ maxLength: 16 }), (a, b) => {
        fc.pre(!Buffer.from(a).equals(Buffer.from(b)));
        expect(decodeFileName(a)).not.toBe(decodeFileName(b));
      }),
      { numRuns: 2000 },
    );
  });

  it('decodes valid UTF-8 as Node does', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 32 }), (text) => {
        expect(decodeFileName(Buffer.from(text, 'utf8'))).toBe(text);
      }),
    );
  });
});

describe('encodeFileName', () => {
  it('returns a well-formed string itself, so valid names cost nothing', () => {
    const name = '/var/log/日志/syslog.1';
    expect(encodeFileName(name)).toBe(name);
  });

  it('returns a Buffer of the original bytes for a name holding escapes', () => {
    expect(encodeFileName('/logs/caf\udce9.log')).toEqual(Buffer.from('/logs/caf\xe9.log', 'latin1'));
  });

  it.each([
    ['a lone high surrogate', 'a\ud800.log'],
    ['a low surrogate below U+DC80 (no byte)', 'a\udc41.log'],
    ['escapes that spell valid UTF-8 (é)', 'a\udcc3\udca9.log'],
  ])('refuses %s: no file has that name', (what, name) => {
    expect(() => encodeFileName(name)).toThrow(FileNameError);
    expect(() => encodeFileName(name)).toThrow(expect.objectContaining({ code: 'EILSEQ' }));
  });
});

describe('displayFileName', () => {
  it('shows escaped bytes as \\xNN and leaves everything else, surrogate pairs included', () => {
    expect(displayFileName('/logs/\udcb2\udce2\udcca\udcd4.log')).toBe('/logs/\\xb2\\xe2\\xca\\xd4.log');
    // U+10080 is the pair D800 DC80: its low half is in the escape range but is not an escape.
    expect(displayFileName('\u{10080} caf\udce9')).toBe('\u{10080} caf\\xe9');
    expect(displayFileName('日志.log')).toBe('日志.log');
  });
});
