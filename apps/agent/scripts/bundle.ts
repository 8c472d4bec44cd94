/**
 * Builds the self-contained vehicle build: one directory with the agent bundled into a single ES module, a launcher
 * and its version. A vehicle needs only Node.js 20+ (no pnpm, no node_modules). Usage:
 *   pnpm --filter @tvm/agent bundle [--out <dir>]
 * Output (default apps/agent/dist/vehicle): tvm-upload.mjs (+ .map), bin/tvm-upload, VERSION, README.txt and
 * LEGAL.txt (every bundled package with its licence and licence texts).
 */
import { chmod, copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { gitCommit } from '../src/version.js';

const agentDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Bundles the agent into `outDir`; resolves to the bundle's path. */
export async function bundleAgent(outDir: string): Promise<string> {
  const pkg = JSON.parse(await readFile(join(agentDir, 'package.json'), 'utf8')) as { version: string };
  await rm(outDir, { recursive: true, force: true });
  await mkdir(join(outDir, 'bin'), { recursive: true });
  const outfile = join(outDir, 'tvm-upload.mjs');
  const commit = gitCommit(agentDir) ?? 'unknown';
  const result = await build({
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
    // The comments go to tvm-upload.mjs.LEGAL.txt, folded into LEGAL.txt below.
    legalComments: 'external',
    metafile: true,
    // `tvm-upload --version` names the commit this build was made from (src/version.ts).
    define: { __TVM_BUILD_COMMIT__: JSON.stringify(commit) },
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
  // zstd's WebAssembly module is read at run time from beside the code that loads it (src/compression/codecs.ts).
  const zstdEntry = createRequire(join(agentDir, 'package.json')).resolve('@bokuweb/zstd-wasm');
  await copyFile(join(dirname(zstdEntry), 'zstd.wasm'), join(outDir, 'zstd.wasm'));
  const launcher = join(outDir, 'bin', 'tvm-upload');
  // The launcher runs node itself (the bundle's hashbang is not used), so it repeats the node flags src/cli.ts's
  // hashbang asks for (`#!/usr/bin/env -S node --max-semi-space-size=2`): one place decides them. No
  // `--enable-source-maps`: node would parse the 6 MB map at every start (20 MiB of RSS kept, 0.05 s of CPU) for
  // stack traces that name the sources; `NODE_OPTIONS=--enable-source-maps` turns it on for a debugging session.
  const nodeFlags = nodeFlagsOf(await readFile(join(agentDir, 'src/cli.ts'), 'utf8'));
  await writeFile(
    launcher,
    [
      '#!/bin/sh',
      '# Runs the bundled tvm-upload agent with Node.js 20+ (TVM_UPLOAD_NODE overrides which node).',
      '# readlink -f: /usr/local/bin/tvm-upload is a symlink to this file.',
      'here=$(dirname "$(readlink -f "$0")")',
      `exec "\${TVM_UPLOAD_NODE:-node}" ${nodeFlags.map((f) => `${f} `).join('')}"$here/../tvm-upload.mjs" "$@"`,
      '',
    ].join('\n'),
  );
  await chmod(launcher, 0o755);
  await writeFile(join(outDir, 'VERSION'), `${pkg.version}\n`);
  const legalComments = join(outDir, 'tvm-upload.mjs.LEGAL.txt');
  const comments = await readFile(legalComments, 'utf8').catch(() => '');
  await rm(legalComments, { force: true });
  const inputs = Object.keys(result.metafile.inputs).map((input) => resolve(process.cwd(), input));
  await writeFile(
    join(outDir, 'LEGAL.txt'),
    legalText(await bundledPackages(inputs), comments, `tvm-upload ${pkg.version} (commit ${commit})`),
  );
  await writeFile(
    join(outDir, 'README.txt'),
    [
      `tvm-upload ${pkg.version}: the vehicle build (needs Node.js 20 or later; nothing else).`,
      'Install on a vehicle from a checkout of the repository:',
      '  sudo scripts/deployment/install.sh --build <this directory> [--config my-config.yaml] [--user <user>]',
      'or copy this directory to /opt/tvm-upload and run bin/tvm-upload --help.',
      'Stack traces name the bundle; NODE_OPTIONS=--enable-source-maps maps them to the sources (tvm-upload.mjs.map).',
      '',
    ].join('\n'),
  );
  return outfile;
}

/** A package whose code is in the bundle, as LEGAL.txt lists it. */
export interface BundledPackage {
  name: string;
  version: string;
  license: string;
  /** The package's LICENSE / LICENCE / COPYING / NOTICE files, by file name. */
  texts: { file: string; text: string }[];
}

/** The directory of the package that owns `file`: the path after the last node_modules, else the nearest package.json with a name. */
async function packageRootOf(file: string): Promise<string | undefined> {
  const parts = file.split(sep);
  const at = parts.lastIndexOf('node_modules');
  if (at >= 0 && at + 1 < parts.length) {
    const length = parts[at + 1]!.startsWith('@') ? at + 3 : at + 2;
    return parts.slice(0, length).join(sep);
  }
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = await readFile(join(dir, 'package.json'), 'utf8').catch(() => undefined);
    if (manifest && (JSON.parse(manifest) as { name?: string }).name) return dir;
  }
  return undefined;
}

function licenseOf(manifest: { license?: unknown; licenses?: unknown }): string {
  const { license, licenses } = manifest;
  if (typeof license === 'string') return license;
  if (license && typeof license === 'object' && 'type' in license) return String(license.type);
  if (Array.isArray(licenses))
    return licenses.map((entry: { type?: string }) => entry.type ?? 'UNKNOWN').join(' OR ');
  return 'UNKNOWN';
}

/** The packages that own the bundle's input files (esbuild's metafile), each with its licence and licence texts. */
export async function bundledPackages(inputs: readonly string[]): Promise<BundledPackage[]> {
  const roots = new Set<string>();
  for (const input of inputs) {
    const root = await packageRootOf(input);
    if (root) roots.add(root);
  }
  const packages = new Map<string, BundledPackage>();
  for (const root of roots) {
    const manifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
      name: string;
      version?: string;
      license?: unknown;
      licenses?: unknown;
    };
    const files = (await readdir(root))
      .filter((file) => /^(licen[cs]e|copying|notice)([.-]|$)/i.test(file))
      .sort();
    // A workspace package without its own licence file is under the repository's LICENSE.
    const repoLicense =
      files.length === 0 && !root.includes(`${sep}node_modules${sep}`)
        ? [join(agentDir, '../../LICENSE')]
        : [];
    const texts = await Promise.all(
      [...files.map((file) => join(root, file)), ...repoLicense].map(async (path) => ({
        file: relative(root, path).split(sep).join('/'),
        text: await readFile(path, 'utf8'),
      })),
    );
    const key = `${manifest.name}@${manifest.version ?? '0.0.0'}`;
    if (!packages.has(key))
      packages.set(key, {
        name: manifest.name,
        version: manifest.version ?? '0.0.0',
        license: licenseOf(manifest),
        texts,
      });
  }
  return [...packages.values()].sort((a, b) =>
    a.name === b.name ? a.version.localeCompare(b.version) : a.name < b.name ? -1 : 1,
  );
}

/**
 * LEGAL.txt: the list of bundled packages with their licences, then each distinct licence text once with the
 * packages it covers, then the legal comments esbuild found in the bundled code.
 */
export function legalText(packages: readonly BundledPackage[], comments: string, title: string): string {
  const lines = [
    `${title}: the packages bundled into tvm-upload.mjs and their licences.`,
    '',
    ...packages.map((p) => {
      if (p.texts.length > 0) return `${p.name}@${p.version}: ${p.license}`;
      const shared = packages.some((other) => other.license === p.license && other.texts.length > 0);
      return `${p.name}@${p.version}: ${p.license} (the package ships no licence file${shared ? `; the ${p.license} text below applies` : ''})`;
    }),
  ];
  const byText = new Map<string, string[]>();
  for (const p of packages)
    for (const { file, text } of p.texts) {
      const names = byText.get(text.trim()) ?? [];
      names.push(`${p.name}@${p.version} (${file})`);
      byText.set(text.trim(), names);
    }
  for (const [text, names] of byText)
    lines.push('', '='.repeat(79), `Licence text of: ${names.join(', ')}`, '-'.repeat(79), text);
  if (comments.trim())
    lines.push(
      '',
      '='.repeat(79),
      'Legal comments found in the bundled code',
      '-'.repeat(79),
      comments.trim(),
    );
  return `${lines.join('\n')}\n`;
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
