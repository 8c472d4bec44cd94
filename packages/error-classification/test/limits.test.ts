import { describe, expect, it } from 'vitest';
import { classifyObjectLimits, MAX_OBJECT_BYTES, objectKeyProblem } from '../src/index.js';

describe('objectKeyProblem', () => {
  it.each([
    ['vehicle-CN-001/2025-10-20/ros/2025-10-20-15-30-00-123456-host-6789/launch.log'],
    ['vehicle/2025-10-20/terminal/日志 with space.log'],
    ['a'.repeat(1024)],
  ])('accepts %s', (key) => {
    expect(objectKeyProblem(key)).toBeUndefined();
  });

  it.each([
    ['', 'the key is empty'],
    ['a'.repeat(1025), "the key is 1025 UTF-8 bytes, over S3's 1024"],
    ['é'.repeat(513), "the key is 1026 UTF-8 bytes, over S3's 1024"],
    ['bad\u0001name', 'the key contains the control character U+0001'],
    ['bad\ud800name', 'the key contains an unpaired surrogate (not valid UTF-8)'],
  ])('rejects %j', (key, problem) => {
    expect(objectKeyProblem(key)).toBe(problem);
  });
});

describe('classifyObjectLimits', () => {
  it('accepts a normal key and size', () => {
    expect(classifyObjectLimits('v/2025-10-20/ros/a.log', 10)).toBeUndefined();
  });

  it('classifies a bad key as a permanent invalid-object-key', () => {
    expect(classifyObjectLimits('x\n', 1)).toMatchObject({
      kind: 'permanent',
      category: 'invalid-object-key',
      scope: 'file',
    });
  });

  it('classifies a file over 5 TiB as file-too-large', () => {
    expect(classifyObjectLimits('ok', MAX_OBJECT_BYTES + 1)).toMatchObject({
      kind: 'permanent',
      category: 'file-too-large',
    });
  });
});
