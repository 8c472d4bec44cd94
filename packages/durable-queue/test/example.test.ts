import { fileURLToPath } from 'node:url';
import { runTypeScript } from '@tvm/test-utils';
import { describe, expect, it } from 'vitest';

describe('examples/basic.ts', () => {
  it('queues, retries, fails, records, and requeues through a request', async () => {
    const { stdout } = await runTypeScript(fileURLToPath(new URL('../examples/basic.ts', import.meta.url)));
    expect(stdout.trim().split('\n')).toEqual([
      'queued: 2',
      'due now: /var/log/syslog.1',
      'PERMANENT FAILURE: AccessDenied: Access Denied (/var/log/syslog.1)',
      'already uploaded: true',
      'snapshot: 0 queued, 1 failed, 1 request',
      'requeued: 1',
      'queue.json: /var/log/syslog.1',
    ]);
  });
});

describe('README.md', () => {
  it('shows examples/basic.ts verbatim', async () => {
    const { readFile } = await import('node:fs/promises');
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
    const example = await readFile(new URL('../examples/basic.ts', import.meta.url), 'utf8');
    expect(readme).toContain(`\`\`\`ts\n${example.trimEnd()}\n\`\`\``);
  });
});
