// The consumer test's checks: reading a README and judging an unpacked tarball. Pure text work except
// checkTarball, which only reads the unpacked directory.
import { builtinModules } from 'node:module';
import { readFile, readdir } from 'node:fs/promises';
import { dirname, join, posix, relative } from 'node:path';
import ts from 'typescript';

/** Node's oldest release that can `require()` an ES module without a flag. */
export const MIN_NODE = [20, 19] as const;

/** The body of the fenced block of `language` that follows `heading`, or undefined. */
function blockAfter(text: string, marker: string, language: string): string | undefined {
  const at = text.indexOf(marker);
  if (at < 0) return undefined;
  const open = text.indexOf(`\`\`\`${language}\n`, at);
  if (open < 0) return undefined;
  const start = open + language.length + 4;
  const close = text.indexOf('\n```', start - 1);
  return close < 0 ? undefined : text.slice(start, close + 1);
}

/** The README's example: the first ```ts block after "## Example". */
export function exampleOf(readme: string): string | undefined {
  return blockAfter(readme, '\n## Example', 'ts');
}

/** The block after "It prints" that follows the example, without its trailing newline. */
export function printedBlockOf(readme: string): string | undefined {
  const example = readme.indexOf('\n## Example');
  if (example < 0) return undefined;
  const next = readme.indexOf('\n## ', example + 1);
  const section = readme.slice(example, next < 0 ? undefined : next);
  // "It prints:" or "It prints (how to run it):", then a bare fenced block.
  return blockAfter(section, '\nIt prints', '')?.trimEnd();
}

/** The package specs of the install command under "## Install" (`pnpm add ...` or `npm install ...`). */
export function installLineOf(readme: string): string[] | undefined {
  const block = blockAfter(readme, '\n## Install', 'sh');
  const line = block
    ?.split('\n')
    .find((candidate) => /^(pnpm add|npm install|npm i|yarn add) /.test(candidate));
  return line
    ?.split(/\s+/)
    .slice(2)
    .filter((word) => word.length > 0 && !word.startsWith('-'));
}

/** The package name of a bare import specifier (`@scope/name/sub` gives `@scope/name`). */
export function packageNameOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** The packages an example imports that are neither Node built-ins nor named by the install line. */
export function missingFromInstallLine(example: string, install: readonly string[]): string[] {
  const installed = new Set(install.map((spec) => spec.replace(/(?<=.)@[^/]*$/, '')));
  const imported = [...example.matchAll(/\bfrom\s+'([^']+)'|\bimport\s+'([^']+)'/g)].map(
    (m) => (m[1] ?? m[2])!,
  );
  const builtins = new Set(builtinModules);
  return [
    ...new Set(
      imported
        .filter((specifier) => !specifier.startsWith('node:') && !specifier.startsWith('.'))
        .map(packageNameOf)
        .filter((name) => !builtins.has(name) && !installed.has(name)),
    ),
  ];
}

/** The TypeScript example as the JavaScript a reader would write: types stripped, nothing else changed. */
export function toJavaScript(example: string): string {
  return ts.transpileModule(example, {
    compilerOptions: {
      module: ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ES2022,
      verbatimModuleSyntax: false,
    },
  }).outputText;
}

/**
 * The ESM example as a CommonJS file: each `import` becomes a `require()` and the rest runs inside an async
 * function (CommonJS has no top-level await). A rejection prints its stack and exits with 1.
 */
export function toCommonJs(esm: string): string {
  const requires: string[] = [];
  const body = esm.replace(
    /^import\s+([\s\S]*?)\s+from\s+(['"][^'"]+['"]);?$/gm,
    (_match, clause: string, source: string) => {
      const named = /^\{([\s\S]*)\}$/.exec(clause.trim());
      const namespace = /^\*\s+as\s+(\w+)$/.exec(clause.trim());
      if (named)
        requires.push(`const { ${named[1]!.replace(/\s+as\s+/g, ': ').trim()} } = require(${source});`);
      else if (namespace) requires.push(`const ${namespace[1]} = require(${source});`);
      else requires.push(`const ${clause.trim()} = require(${source}).default;`);
      return '';
    },
  );
  if (/^import\s/m.test(body)) throw new Error(`an import the CommonJS conversion does not handle:\n${body}`);
  return `'use strict';\n${requires.join('\n')}\n(async () => {\n${body.trim()}\n})().catch((error) => {\n  console.error(error);\n  process.exitCode = 1;\n});\n`;
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split('\\').join('/'))
    .sort();
}

function exportTargets(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(exportTargets);
  if (value && typeof value === 'object') return Object.values(value).flatMap(exportTargets);
  return [];
}

/** Whether an `engines.node` range's lower bound is at least MIN_NODE (`>=20.19`, `>=22`, `^20.19.0 || >=22`). */
export function enginesAllowRequireOfEsm(range: string | undefined): boolean {
  if (!range) return false;
  return range.split('||').every((alternative) => {
    const bound = /(?:>=|\^|~)?\s*v?(\d+)(?:\.(\d+))?/.exec(alternative.trim());
    if (!bound) return false;
    const [major, minor] = [Number(bound[1]), Number(bound[2] ?? 0)];
    return major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1]);
  });
}

/** Everything wrong with an unpacked tarball (`.../package`), as sentences; empty when it is fine. */
export async function checkTarball(dir: string): Promise<string[]> {
  const problems: string[] = [];
  const files = await filesUnder(dir);
  const present = new Set(files);
  const manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as {
    license?: string;
    exports?: unknown;
    main?: string;
    types?: string;
    engines?: { node?: string };
  };
  const allowed = /^(package\.json|README\.md|LICENSE|CHANGELOG\.md|dist\/.+)$/;
  for (const file of files) {
    if (!allowed.test(file)) problems.push(`ships ${file} (only dist, README, CHANGELOG and LICENSE belong)`);
    if (/\.tsbuildinfo$/.test(file)) problems.push(`ships the build cache ${file}`);
  }
  if (!present.has('LICENSE')) problems.push('has no LICENSE file');
  else if (manifest.license === 'MIT' && !/^MIT License/.test(await readFile(join(dir, 'LICENSE'), 'utf8')))
    problems.push('LICENSE is not the MIT licence its license field names');
  if (!present.has('README.md')) problems.push('has no README.md');
  for (const target of [...exportTargets(manifest.exports), manifest.main, manifest.types]) {
    if (target === undefined) continue;
    if (!present.has(posix.normalize(target)))
      problems.push(`points at ${target}, which it does not contain`);
  }
  if (!enginesAllowRequireOfEsm(manifest.engines?.node))
    problems.push(
      `engines.node is ${JSON.stringify(manifest.engines?.node)}: require() of these ES modules needs >=${MIN_NODE.join('.')}`,
    );
  for (const map of files.filter((file) => file.endsWith('.map'))) {
    const parsed = JSON.parse(await readFile(join(dir, map), 'utf8')) as {
      sources?: string[];
      sourcesContent?: (string | null)[];
    };
    (parsed.sources ?? []).forEach((source, index) => {
      const inline = parsed.sourcesContent?.[index];
      const shipped = present.has(posix.normalize(posix.join(dirname(map), source)));
      if (typeof inline !== 'string' && !shipped)
        problems.push(`${map} points at ${source}, which is neither shipped nor inlined (sourcesContent)`);
    });
  }
  return problems;
}
