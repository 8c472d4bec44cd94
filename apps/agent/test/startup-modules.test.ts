/**
 * What `tvm-upload run` loads before it is asked for more: the daemon's module graph (src/run.ts, as cli.ts imports
 * it) must leave out the SDK clients and codecs only some configs or commands use. Each is a few hundred
 * milliseconds of CPU at every start of the service (issue 16: a daemon starts on every boot).
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const agentDir = fileURLToPath(new URL('..', import.meta.url));

/** The CommonJS modules (the AWS SDK ships only those to Node) loaded by importing `module` in a fresh process. */
function modulesLoadedBy(module: string): string[] {
  const script = `
    import { createRequire } from 'node:module';
    await import(${JSON.stringify(module)});
    process.stdout.write(JSON.stringify(Object.keys(createRequire(import.meta.url).cache)));
  `;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: agentDir,
    encoding: 'utf8',
  });
  return JSON.parse(out) as string[];
}

describe('the daemon at start-up', () => {
  it('loads the S3 client, and not CloudWatch, STS, lib-storage or zstd until they are used', () => {
    const loaded = modulesLoadedBy('./src/run.ts');
    const packages = (name: string) => loaded.filter((path) => path.includes(`/node_modules/${name}/`));
    // The mechanism works: what the daemon always needs is there.
    expect(packages('@aws-sdk/client-s3').length).toBeGreaterThan(0);
    for (const lazy of [
      '@aws-sdk/client-cloudwatch',
      '@aws-sdk/client-sts',
      '@aws-sdk/lib-storage',
      '@bokuweb/zstd-wasm',
    ]) {
      expect(packages(lazy), lazy).toEqual([]);
    }
  }, 60_000);
});
