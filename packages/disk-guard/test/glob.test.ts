import { describe, expect, it } from 'vitest';
import { compileGlob } from '../src/index.js';

describe('compileGlob', () => {
  it.each([
    ['syslog.[1-9]*', 'syslog.1', true],
    ['syslog.[1-9]*', 'syslog.2.gz', true],
    ['syslog.[1-9]*', 'syslog', false],
    ['syslog.[1-9]*', 'syslog.0', false],
    ['syslog.[1-9]*', 'xsyslog.1', false],
    ['*.log', 'launch.log', true],
    ['*.log', 'launch.log.1', false],
    ['*.log', '.log', true],
    ['?.log', 'a.log', true],
    ['?.log', 'ab.log', false],
    ['[!a]*', 'b.txt', true],
    ['[!a]*', 'a.txt', false],
    ['[]]x', ']x', true],
    ['a[', 'a[', true],
    ['a.b', 'aXb', false],
    ['(x)+', '(x)+', true],
    ['*', 'anything at all', true],
  ])('matches %s against %s: %s', (pattern, name, expected) => {
    expect(compileGlob(pattern)(name)).toBe(expected);
  });
});
