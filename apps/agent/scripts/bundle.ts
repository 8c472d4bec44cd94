/**
 * Builds the self-contained vehicle build: one directory with the agent bundled into a single ES module, a launcher
 * and its version. A vehicle needs only Node.js 20+ (no pnpm, no node_modules). Usage:
 *   pnpm --filter @tvm/agent bundle [--out <dir>]
 * Output (default apps/agent/dist/vehicle): tvm-upload.mjs (+ .map), bin/tvm-upload, VERSION, README.txt.
 */
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const agentDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Bundles the agent into `outDir`; resolves to the bundle's path. */
export async function bundleAgent(outDir: string): Promise<string> {
  const pkg = JSON.parse(await readFile(join(agentDir, 'package.json'), 'utf8')) as { version: string };
  await rm(outDir, { recursive: true, force: true });
  await mkdir(join(outDir, 'bin'), { recursive: true });
  const outfile = join(outDir, 'tvm-upload.mjs');
  await build({
    entryPoints: [join(agentDir, 'src/cli.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // The workspace libraries are bundled from their TypeScript sources: no library build is needed first.
    conditions: ['@tvm/source'],
    mainFields: ['module', 'main'],
    sourcemap: true,
    legalComments: 'linked',
    // chokidar's optional macOS dependency: absent on Linux, never loaded there.
    external: ['fsevents'],
    // The hashbang comes from src/cli.ts. Bundled CommonJS dependencies (the AWS SDK's) call require(), __filename and __dirname, which an ES module
    // lacks.
    banner: {
      js: [
        "import { createRequire as __tvmCreateRequire } from 'node:module';",
        "import { fileURLToPath as __tvmFileURLToPath } from 'node:url';",
        "import { dirname as __tvmDirname } from 'node:path';",
        'const require = __tvmCreateRequire(import.meta.url);',
        'const __filename = __tvmFileURLToPath(import.meta.url);',
        'const __dirname = __tvmDirname(__filename);',
      ].join('\n'),
    },
    logLevel: 'warning',
  });
  await chmod(outfile, 0o755);
  const launcher = join(outDir, 'bin', 'tvm-upload');
  // The launcher runs node itself (the bundle's hashbang is not used), so it repeats the node flags src/cli.ts's
  // hashbang asks for (`#!/usr/bin/env -S node --max-semi-space-size=2`): one place decides them.
  const nodeFlags = nodeFlagsOf(await readFile(join(agentDir, 'src/cli.ts'), 'utf8'));
  await writeFile(
    launcher,
    [
      '#!/bin/sh',
      '# Runs the bundled tvm-upload agent with Node.js 20+ (TVM_UPLOAD_NODE overrides which node).',
      '# readlink -f: /usr/local/bin/tvm-upload is a symlink to this file.',
      'here=$(dirname "$(readlink -f "$0")")',
      `exec "\${TVM_UPLOAD_NODE:-node}" --enable-source-maps ${nodeFlags.map((f) => `${f} `).join('')}"$here/../tvm-upload.mjs" "$@"`,
      '',
    ].join('\n'),
  );
  await chmod(launcher, 0o755);
  await writeFile(join(outDir, 'VERSION'), `${pkg.version}\n`);
  await writeFile(
    join(outDir, 'README.txt'),
    [
      `tvm-upload ${pkg.version}: the vehicle build (needs Node.js 20 or later; nothing else).`,
      'Install on a vehicle from a checkout of the repository:',
      '  sudo scripts/deployment/install.sh --build <this directory> [--config my-config.yaml] [--user <user>]',
      'or copy this directory to /opt/tvm-upload and run bin/tvm-upload --help.',
      '',
    ].join('\n'),
  );
  return outfile;
}

/** The node options in a `#!/usr/bin/env -S node --flag ...` line; only plain `--name[=value]` flags are kept. */
export function nodeFlagsOf(source: string): string[] {
  const first = source.split('\n', 1)[0] ?? '';
  const match = /^#!\/usr\/bin\/env\s+(?:-S\s+)?node\b(.*)$/.exec(first);
  return (match?.[1] ?? '').split(/\s+/).filter((flag) => /^--[a-z0-9-]+(=[\w.-]+)?$/i.test(flag));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { out: { type: 'string' } } });
  const outDir = resolve(values.out ?? join(agentDir, 'dist', 'vehicle'));
  const file = await bundleAgent(outDir);
  process.stdout.write(`Vehicle build: ${outDir} (${file})\n`);
}
