import { describe, expect, it } from 'vitest';
import { createLogger, journalStreams, redact, type LogLevel } from '../src/logger.js';

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

describe('journalStreams', () => {
  const stat = (streams: Record<number, { dev: number; ino: number }>) => (fd: number) => streams[fd];
  it('says journal only for the streams whose device:inode JOURNAL_STREAM names (sd-daemon(3))', () => {
    const journal = { dev: 25, ino: 4242 };
    const pipe = { dev: 14, ino: 99 };
    expect(journalStreams({ JOURNAL_STREAM: '25:4242' }, stat({ 1: journal, 2: journal }))).toEqual({
      stdout: true,
      stderr: true,
    });
    // Inherited by a child whose stdout is a pipe (`tvm-upload run | tee`): only stderr is still the journal.
    expect(journalStreams({ JOURNAL_STREAM: '25:4242' }, stat({ 1: pipe, 2: journal }))).toEqual({
      stdout: false,
      stderr: true,
    });
    expect(journalStreams({ JOURNAL_STREAM: '25:4242' }, stat({ 1: pipe, 2: pipe }))).toEqual({
      stdout: false,
      stderr: false,
    });
    expect(journalStreams({}, stat({ 1: journal, 2: journal }))).toEqual({ stdout: false, stderr: false });
    expect(journalStreams({ JOURNAL_STREAM: 'garbage' }, stat({ 1: journal, 2: journal }))).toEqual({
      stdout: false,
      stderr: false,
    });
  });

  it('is what createLogger uses by default: a JOURNAL_STREAM naming another stream gets no prefixes', async () => {
    const { execFileSync } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const loggerModule = fileURLToPath(new URL('../src/logger.ts', import.meta.url));
    // stdout is a pipe here, never the (made-up) journal stream 1:1.
    const out = execFileSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        `import(${JSON.stringify(loggerModule)}).then(m => m.createLogger({ now: () => 0 }).info('hello'))`,
      ],
      { env: { ...process.env, JOURNAL_STREAM: '1:1' }, encoding: 'utf8' },
    );
    expect(out).toBe('1970-01-01T00:00:00.000Z INFO  hello\n');
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
