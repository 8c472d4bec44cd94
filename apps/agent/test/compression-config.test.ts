import { describe, expect, it } from 'vitest';
import { describeConfig } from '../src/config-summary.js';
import { checkConfigText, parseConfig } from '../src/config.js';

const config = (compress?: string) => `
vehicle_id: vehicle-CN-001
log_directories:
  - path: /logs/ros
    source: ros${compress === undefined ? '' : `\n    compress: ${compress}`}
  - path: /logs/terminal
    source: terminal
s3:
  bucket: t01logs
  region: cn-north-1
`;

describe('log_directories[].compress', () => {
  it('defaults to none, and check-config shows no compression', () => {
    const { config: parsed, warnings } = parseConfig(config(), { env: {} });
    expect(parsed.log_directories.map((d) => d.compress)).toEqual(['none', 'none']);
    expect(warnings).toEqual([]);
    expect(describeConfig(parsed)).toContain(
      '  ros: /logs/ros (pattern *, recursive, deletion allowed, priority normal)',
    );
  });

  it.each(['gzip', 'zstd'])(
    'accepts %s with no unknown-key warning, and shows it in the summary',
    (algorithm) => {
      const { config: parsed, warnings } = parseConfig(config(algorithm), { env: {} });
      expect(warnings).toEqual([]);
      expect(parsed.log_directories[0]?.compress).toBe(algorithm);
      expect(describeConfig(parsed)).toContain(
        `  ros: /logs/ros (pattern *, recursive, deletion allowed, priority normal, compressed with ${algorithm})`,
      );
    },
  );

  it('rejects another algorithm, naming the key and the choices', () => {
    const check = checkConfigText(config('brotli'), { env: {} });
    expect(check.config).toBeUndefined();
    expect(check.problems).toEqual([
      expect.objectContaining({
        key: 'log_directories[0].compress',
        message: 'must be none, gzip or zstd, got "brotli"',
      }),
    ]);
  });
});
