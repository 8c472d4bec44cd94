import { describe, expect, it } from 'vitest';
import { createLogger, redact, type LogLevel } from '../src/logger.js';

function capture(options: { journal: boolean; level?: LogLevel }) {
  const lines: Array<[LogLevel, string]> = [];
  const logger = createLogger({
    ...options,
    now: () => Date.UTC(2025, 9, 20),
    write: (line, level) => lines.push([level, line]),
  });
  return { logger, lines };
}

describe('createLogger', () => {
  it('prefixes syslog priorities under the journal', () => {
    const { logger, lines } = capture({ journal: true, level: 'debug' });
    logger.debug('d');
    logger.info('Retry 1/10 for test.log (next attempt in 1s)');
    logger.warn('w');
    logger.error('PERMANENT FAILURE: File not found: /var/log/test.log');
    expect(lines.map(([, line]) => line)).toEqual([
      '<7>d\n',
      '<6>Retry 1/10 for test.log (next attempt in 1s)\n',
      '<4>w\n',
      '<3>PERMANENT FAILURE: File not found: /var/log/test.log\n',
    ]);
  });

  it('stamps time and level outside the journal and drops lines below the level', () => {
    const { logger, lines } = capture({ journal: false });
    logger.debug('hidden');
    logger.info('shown');
    expect(lines).toEqual([['info', '2025-10-20T00:00:00.000Z INFO  shown\n']]);
    logger.level = 'debug';
    logger.debug('now shown');
    expect(lines).toHaveLength(2);
  });

  it('folds a multi-line message into one line', () => {
    const { logger, lines } = capture({ journal: true });
    logger.error('first\n  second\r\nthird');
    expect(lines[0]?.[1]).toBe('<3>first second third\n');
  });

  it('names a file whose name is not valid UTF-8 by its bytes (\\xNN), never U+FFFD', () => {
    const { logger, lines } = capture({ journal: true });
    logger.info('Uploaded /logs/caf\udce9.log to s3://b/k (5 bytes)');
    expect(lines[0]?.[1]).toBe('<6>Uploaded /logs/caf\\xe9.log to s3://b/k (5 bytes)\n');
  });
});

describe('redact', () => {
  it('never prints secrets or whole access key ids', () => {
    const line = redact(
      'aws_access_key_id=AKIAIOSFODNN7EXAMPLE aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY X-Amz-Signature=abc123&x=1 {"secretAccessKey":"s3cr3t"}',
    );
    expect(line).not.toContain('AKIAIOSFODNN7EXAMPLE');
    expect(line).toContain('****************MPLE');
    expect(line).not.toContain('wJalrXUtnFEMI');
    expect(line).not.toContain('abc123');
    expect(line).not.toContain('s3cr3t');
  });

  it('leaves ordinary log lines alone', () => {
    const text =
      'PERMANENT FAILURE: InvalidAccessKeyId: The AWS Access Key Id you provided does not exist in our records.';
    expect(redact(text)).toBe(text);
  });
});
