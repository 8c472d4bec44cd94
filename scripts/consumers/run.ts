// The consumer test (`pnpm test:consumers`): what a stranger gets from the published packages.
// Builds, packs every publishable package, checks each tarball's contents, installs the tarballs with npm into a
// fresh project outside the workspace, runs each README example there as plain JavaScript both as ESM (`import`)
// and as CommonJS (`require`), compares what it prints with the README's "It prints:" block, and runs publint and
// @arethetypeswrong/cli on each tarball. Any problem fails the run; it prints SKIP only when npm is unavailable.
import { execFile as execFileCallback, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  FAKE_CLOUDWATCH_CREDENTIALS,
  S3RVER_CREDENTIALS,
  startFakeCloudWatch,
  startLocalS3,
} from '@tvm/test-utils';
import {
  checkTarball,
  exampleOf,
  installLineOf,
  missingFromInstallLine,
  printedBlockOf,
  toCommonJs,
  toJavaScript,
} from './checks.js';

const execFile = promisify(execFileCallback);
const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const bin = (name: string) => join(root, 'node_modules', '.bin', name);
const started = Date.now();
const problems: string[] = [];

/** The published packages, in dependency order. */
const PACKAGES = ['error-classification', 'durable-queue', 's3-uploader', 'disk-guard', 'metrics'] as const;

function step(title: string): void {
  console.log(`--- ${title} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

async function run(
  file: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFile(file, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      timeout: options.timeoutMs ?? 120_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { ok: true, stdout, stderr };
  } catch (error) {
    const failure = error as { stdout?: string; stderr?: string; message: string };
    return { ok: false, stdout: failure.stdout ?? '', stderr: failure.stderr ?? failure.message };
  }
}

if (spawnSync('npm', ['--version'], { stdio: 'ignore' }).status !== 0) {
  console.log(
    'SKIP consumer test: npm is not available on PATH (it installs the tarballs as a stranger would)',
  );
  process.exit(0);
}

const scratch = await mkdtemp(join(tmpdir(), 'tvm-consumers-'));
const tarballs = join(scratch, 'tarballs');
const project = join(scratch, 'project');
await mkdir(tarballs);
await mkdir(project);

try {
  step('build (tsc -b)');
  const build = await run(bin('tsc'), ['-b'], { cwd: root, timeoutMs: 300_000 });
  if (!build.ok) throw new Error(`tsc -b failed:\n${build.stdout}${build.stderr}`);

  step('pack');
  const readmes = new Map<string, string>();
  const tarballOf = new Map<string, string>();
  for (const name of PACKAGES) {
    const dir = join(root, 'packages', name);
    const before = new Set(await readdir(tarballs));
    const pack = await run('pnpm', ['pack', '--pack-destination', tarballs], { cwd: dir });
    if (!pack.ok) throw new Error(`pnpm pack of @tvm/${name} failed:\n${pack.stderr}`);
    const created = (await readdir(tarballs)).filter((file) => !before.has(file));
    if (created.length !== 1) throw new Error(`pnpm pack of @tvm/${name} made ${created.length} tarballs`);
    tarballOf.set(name, join(tarballs, created[0]!));
    readmes.set(name, await readFile(join(dir, 'README.md'), 'utf8'));
  }

  step('tarball contents');
  for (const name of PACKAGES) {
    const tarball = tarballOf.get(name)!;
    const into = await mkdtemp(join(scratch, `${name}-`));
    const unpack = await run('tar', ['-xzf', tarball, '-C', into], { cwd: scratch });
    if (!unpack.ok) throw new Error(`cannot unpack ${tarball}: ${unpack.stderr}`);
    const unpacked = join(into, 'package');
    const found = await checkTarball(unpacked);
    for (const problem of found) problems.push(`@tvm/${name} tarball: ${problem}`);
    console.log(`@tvm/${name}: ${found.length === 0 ? 'ok' : `${found.length} problem(s)`}`);
  }

  step('publint and attw on each tarball');
  await Promise.all(
    PACKAGES.map(async (name) => {
      const tarball = tarballOf.get(name)!;
      const publint = await run(bin('publint'), ['--strict', tarball], { cwd: scratch });
      if (!publint.ok || !/All good!/.test(publint.stdout))
        problems.push(`@tvm/${name}: publint:\n${publint.stdout}${publint.stderr}`);
      // ESM only: the CommonJS view is checked for real below (require() of ESM on Node >= 20.19), which attw's
      // TypeScript does not model, so its esm-only profile is the one that applies.
      const attw = await run(
        bin('attw'),
        [tarball, '--profile', 'esm-only', '--format', 'ascii', '--no-emoji'],
        {
          cwd: scratch,
        },
      );
      if (!attw.ok) problems.push(`@tvm/${name}: attw:\n${attw.stdout}${attw.stderr}`);
    }),
  );

  step('npm install of the tarballs into a project outside the workspace');
  const thirdParty = new Set<string>();
  for (const name of PACKAGES) {
    const readme = readmes.get(name)!;
    const install = installLineOf(readme);
    if (!install) {
      problems.push(`@tvm/${name} README: no install line`);
      continue;
    }
    if (!install.includes(`@tvm/${name}`))
      problems.push(`@tvm/${name} README: the install line does not name it`);
    for (const dependency of install.filter((spec) => !spec.startsWith('@tvm/'))) thirdParty.add(dependency);
    for (const missing of missingFromInstallLine(exampleOf(readme) ?? '', install))
      problems.push(
        `@tvm/${name} README: the example imports ${missing}, which the install line does not install`,
      );
  }
  await writeFile(
    join(project, 'package.json'),
    `${JSON.stringify({ name: 'tvm-consumer', private: true, version: '1.0.0' }, null, 2)}\n`,
  );
  const npmEnv = {
    ...process.env,
    npm_config_fund: 'false',
    npm_config_audit: 'false',
    npm_config_update_notifier: 'false',
  };
  const install = await run(
    'npm',
    ['install', '--no-package-lock', ...PACKAGES.map((name) => tarballOf.get(name)!), ...thirdParty],
    { cwd: project, env: npmEnv, timeoutMs: 180_000 },
  );
  if (!install.ok) throw new Error(`npm install failed:\n${install.stderr}`);
  for (const name of PACKAGES) {
    const installed = JSON.parse(
      await readFile(join(project, 'node_modules', '@tvm', name, 'package.json'), 'utf8'),
    ) as { version: string };
    const packed = JSON.parse(await readFile(join(root, 'packages', name, 'package.json'), 'utf8')) as {
      version: string;
    };
    if (installed.version !== packed.version)
      problems.push(`@tvm/${name}: npm installed ${installed.version}, not the packed ${packed.version}`);
  }

  step('README examples, as ESM and as CommonJS');
  {
    // Each run gets a fresh S3 server and CloudWatch endpoint: the second run must print what the first printed.
    const exampleEnv = (
      name: string,
      temp: string,
      s3: { endpoint: string },
      cloudwatch: { endpoint: string },
    ): NodeJS.ProcessEnv => ({
      PATH: process.env['PATH'],
      HOME: project,
      TMPDIR: temp,
      AWS_CONFIG_FILE: join(project, 'no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(project, 'no-aws-credentials'),
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...(name === 's3-uploader'
        ? {
            S3_ENDPOINT: s3.endpoint,
            AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
            AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
          }
        : {}),
      ...(name === 'metrics'
        ? {
            CLOUDWATCH_ENDPOINT: cloudwatch.endpoint,
            AWS_ACCESS_KEY_ID: FAKE_CLOUDWATCH_CREDENTIALS.accessKeyId,
            AWS_SECRET_ACCESS_KEY: FAKE_CLOUDWATCH_CREDENTIALS.secretAccessKey,
          }
        : {}),
    });
    for (const name of PACKAGES) {
      const readme = readmes.get(name)!;
      const example = exampleOf(readme);
      const expected = printedBlockOf(readme);
      if (!example || !expected) {
        problems.push(
          `@tvm/${name} README: ${!example ? 'no ```ts example' : 'no "It prints:" block after the example'}`,
        );
        continue;
      }
      const esm = toJavaScript(example);
      const variants = [
        { kind: 'ESM', file: `${name}.mjs`, code: esm },
        { kind: 'CommonJS', file: `${name}.cjs`, code: toCommonJs(esm) },
      ];
      for (const variant of variants) {
        await writeFile(join(project, variant.file), variant.code);
        const temp = await mkdtemp(join(scratch, `${name}-tmp-`));
        const [s3, cloudwatch] = await Promise.all([
          startLocalS3({ buckets: ['t01logs'] }),
          startFakeCloudWatch(),
        ]);
        const result = await run(process.execPath, [variant.file], {
          cwd: project,
          env: exampleEnv(name, temp, s3, cloudwatch),
          timeoutMs: 60_000,
        }).finally(() => Promise.all([s3.close(), cloudwatch.close()]));
        const printed = result.stdout.trimEnd();
        if (!result.ok)
          problems.push(`@tvm/${name} README example as ${variant.kind} failed:\n${result.stderr}`);
        else if (printed !== expected)
          problems.push(
            `@tvm/${name} README example as ${variant.kind} printed:\n${printed}\ninstead of the README's:\n${expected}`,
          );
        console.log(
          `@tvm/${name} as ${variant.kind}: ${result.ok && printed === expected ? 'ok' : 'FAILED'}`,
        );
      }
    }
  }
} catch (error) {
  problems.push(error instanceof Error ? error.message : String(error));
} finally {
  await rm(scratch, { recursive: true, force: true });
}

const seconds = ((Date.now() - started) / 1000).toFixed(1);
if (problems.length > 0) {
  console.error(`\nconsumer test FAILED (${problems.length} problem(s), ${seconds} s):`);
  for (const problem of problems) console.error(`- ${problem}`);
  process.exit(1);
}
console.log(`\nconsumer test passed: ${PACKAGES.length} packages, ${seconds} s`);
