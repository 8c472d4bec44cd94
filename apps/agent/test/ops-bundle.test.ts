import { execFile, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleAgent, legalText, nodeFlagsOf } from '../scripts/bundle.js';
import { gitCommit } from '../src/version.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const exampleConfig = join(repo, 'deploy/config/config.example.yaml');
const script = (name: string) => join(repo, 'scripts/deployment', name);

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], env: Record<string, string> = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(file, args, { env: { ...process.env, ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

let work: string;
let build: string;

beforeAll(async () => {
  // Outside the repository: the build must run with no node_modules to resolve from, as on a vehicle.
  work = await mkdtemp(join(tmpdir(), 'tvm-bundle-'));
  build = join(work, 'vehicle');
  await bundleAgent(build);
}, 120_000);

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('bundleAgent', () => {
  it('writes one bundled module, a launcher and the version', async () => {
    const files = await readdir(build);
    expect(files).toEqual(
      expect.arrayContaining(['tvm-upload.mjs', 'bin', 'VERSION', 'README.txt', 'LEGAL.txt', 'zstd.wasm']),
    );
    expect(await readdir(join(build, 'bin'))).toEqual(['tvm-upload']);
    expect(await exists(join(build, 'node_modules'))).toBe(false);
  });

  it("gives its launcher the node flags of src/cli.ts's hashbang, and the launcher passes shellcheck", async () => {
    const launcher = await readFile(join(build, 'bin/tvm-upload'), 'utf8');
    const flags = nodeFlagsOf(
      await readFile(fileURLToPath(new URL('../src/cli.ts', import.meta.url)), 'utf8'),
    );
    expect(launcher).toContain(
      `exec "\${TVM_UPLOAD_NODE:-node}" ${flags.map((f) => `${f} `).join('')}"$here/../tvm-upload.mjs"`,
    );
    if (spawnSync('sh', ['-c', 'command -v shellcheck']).status === 0) {
      expect((await run('shellcheck', [join(build, 'bin/tvm-upload')])).code).toBe(0);
    }
  });

  it.each([
    ['#!/usr/bin/env node\n', []],
    ['#!/usr/bin/env -S node --max-semi-space-size=2\n', ['--max-semi-space-size=2']],
    ['#!/usr/bin/env -S node --a --b=1 ; rm -rf /\n', ['--a', '--b=1']],
    ['import x;\n', []],
  ])('nodeFlagsOf(%j) is %j', (source, flags) => {
    expect(nodeFlagsOf(source)).toEqual(flags);
  });

  it('runs check-config with plain node, outside the workspace', async () => {
    const result = await run(process.execPath, [
      join(build, 'tvm-upload.mjs'),
      'check-config',
      '--config',
      exampleConfig,
    ]);
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain('Config OK');
    expect(result.stdout).toContain('vehicle-CN-001');
    expect(result.code).toBe(0);
  });

  it('runs through its launcher and reports an invalid config with exit 1', async () => {
    const bad = join(work, 'bad.yaml');
    await writeFile(bad, 'vehicle_id: v1\nlog_directories: []\ns3: { bucket: b, region: r }\n');
    const result = await run(join(build, 'bin/tvm-upload'), ['check-config', '--config', bad]);
    expect(result.stderr).toContain('log_directories');
    expect(result.code).toBe(1);
  });

  it('--version prints the version and the commit the build was made from', async () => {
    const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repo, encoding: 'utf8' });
    const expected = commit.status === 0 ? commit.stdout.trim() : 'unknown';
    const version = await run(join(build, 'bin/tvm-upload'), ['--version']);
    expect(version.stdout.trim()).toBe(
      `${(await readFile(join(build, 'VERSION'), 'utf8')).trim()} (commit ${expected})`,
    );
    expect(version.code).toBe(0);
    expect(gitCommit(work)).toBeUndefined(); // outside git: the bundle says "unknown", the sources say "source"
  });

  it('LEGAL.txt names every package whose code is in the bundle, with its licence and licence texts', async () => {
    const legal = await readFile(join(build, 'LEGAL.txt'), 'utf8');
    // Independent of the metafile that bundle.ts reads: the packages named by the source map's sources.
    const map = JSON.parse(await readFile(join(build, 'tvm-upload.mjs.map'), 'utf8')) as {
      sources: string[];
    };
    const names = new Set<string>();
    for (const source of map.sources) {
      const match = /.*node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(source);
      if (match) names.add(match[1]!);
      const workspace = /(?:^|\/)(packages|apps)\/([^/]+)\/src\//.exec(source);
      if (workspace) names.add(workspace[1] === 'apps' ? '@tvm/agent' : `@tvm/${workspace[2]}`);
    }
    expect(names.size).toBeGreaterThan(10);
    for (const name of ['@aws-sdk/client-s3', '@aws-sdk/client-cloudwatch', 'zod', 'yaml', '@tvm/agent'])
      expect(names).toContain(name);
    const listed = new Map(
      [...legal.matchAll(/^((?:@[^/\s]+\/)?[^@\s]+)@(\S+): (\S+)/gm)].map((m) => [m[1]!, m[3]!]),
    );
    for (const name of names)
      expect(listed.get(name), name).toMatch(/^(MIT|ISC|Apache-2\.0|BSD-[23]-Clause)$/);
    expect(legal).toContain('Apache License');
    expect(legal).toContain('Permission is hereby granted, free of charge');
    expect(legal).not.toContain('UNKNOWN');
  });

  it('legalText prints each licence text once, with the packages it covers', () => {
    const mit = { file: 'LICENSE', text: 'MIT License\n' };
    const text = legalText(
      [
        { name: 'a', version: '1.0.0', license: 'MIT', texts: [mit] },
        { name: 'b', version: '2.0.0', license: 'MIT', texts: [mit] },
        { name: 'c', version: '3.0.0', license: 'MIT', texts: [] },
      ],
      '/*! keep me */',
      'title',
    );
    expect(text.match(/MIT License/g)).toHaveLength(1);
    expect(text).toContain('Licence text of: a@1.0.0 (LICENSE), b@2.0.0 (LICENSE)');
    expect(text).toContain('c@3.0.0: MIT (the package ships no licence file; the MIT text below applies)');
    expect(text).toContain('/*! keep me */');
  });
});

describe('install.sh / verify_deployment.sh / uninstall.sh', () => {
  it('installs into a root, keeps the config on a rerun, backs it up before replacing it, and uninstalls', async () => {
    const root = join(work, 'root');
    await mkdir(root);
    const install = (...args: string[]) =>
      run(script('install.sh'), ['--root', root, '--build', build, ...args]);

    const first = await install();
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(await exists(join(root, 'opt/tvm-upload/tvm-upload.mjs'))).toBe(true);
    expect(await exists(join(root, 'etc/systemd/system/tvm-upload.service'))).toBe(true);
    expect(await readFile(join(root, 'etc/tvm-upload/config.yaml'), 'utf8')).toBe(
      await readFile(exampleConfig, 'utf8'),
    );
    expect(
      await readFile(join(root, 'etc/systemd/system/tvm-upload.service.d/10-install.conf'), 'utf8'),
    ).toMatch(/^User=/m);

    // An operator's edits survive a reinstall.
    const config = join(root, 'etc/tvm-upload/config.yaml');
    const edited = (await readFile(config, 'utf8')).replace('vehicle-CN-001', 'vehicle-CN-042');
    await writeFile(config, edited);
    const second = await install();
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('Keeping the existing');
    expect(await readFile(config, 'utf8')).toBe(edited);
    const backups = () =>
      readdir(join(root, 'etc/tvm-upload')).then((f) => f.filter((n) => n.startsWith('config.yaml.bak.')));
    expect(await backups()).toHaveLength(1);
    // Idempotent: the same config again makes no second backup.
    expect((await install()).code).toBe(0);
    expect(await backups()).toHaveLength(1);

    // An invalid replacement is refused before anything changes, with the problems printed.
    const bad = join(work, 'bad.yaml');
    await writeFile(bad, 'vehicle_id: v1\n');
    const refused = await install('--config', bad);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('log_directories');
    expect(refused.stderr).toContain('nothing was changed');
    expect(await readFile(config, 'utf8')).toBe(edited);

    // A valid replacement is installed after a dated backup of the current one.
    const replacement = join(work, 'replacement.yaml');
    await writeFile(replacement, edited.replace('vehicle-CN-042', 'vehicle-CN-043'));
    expect((await install('--config', replacement)).code).toBe(0);
    expect(await readFile(config, 'utf8')).toContain('vehicle-CN-043');
    const [backup] = await backups();
    expect(await readFile(join(root, 'etc/tvm-upload', backup ?? ''), 'utf8')).toBe(edited);

    const verified = await run(script('verify_deployment.sh'), ['--root', root]);
    expect(verified.stdout).toContain('[PASS] config');
    expect(verified.stdout).not.toContain('[FAIL]');
    expect(verified.code).toBe(0);
    await writeFile(config, 'vehicle_id: v1\n');
    const broken = await run(script('verify_deployment.sh'), ['--root', root]);
    expect(broken.stdout).toContain('[FAIL] config');
    expect(broken.code).toBe(1);

    await writeFile(join(root, 'var/lib/tvm-upload/queue.json'), '{"files":[]}');
    expect((await run(script('uninstall.sh'), ['--root', root, '--keep-data'])).code).toBe(0);
    expect(await exists(join(root, 'opt/tvm-upload'))).toBe(false);
    expect(await exists(join(root, 'etc/systemd/system/tvm-upload.service'))).toBe(false);
    expect(await exists(join(root, 'var/lib/tvm-upload/queue.json'))).toBe(true);
    expect(await exists(config)).toBe(true);
    expect((await run(script('uninstall.sh'), ['--root', root])).code).toBe(0);
    expect(await exists(join(root, 'var/lib/tvm-upload'))).toBe(false);
    expect(await exists(join(root, 'etc/tvm-upload'))).toBe(false);
  });

  it('prints the whole system install with --dry-run, touching nothing', async () => {
    const result = await run(script('install.sh'), ['--build', build, '--dry-run', '--user', 'root']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Config OK');
    expect(result.stdout).toContain(
      '[dry-run] ln -sfn /opt/tvm-upload/bin/tvm-upload /usr/local/bin/tvm-upload',
    );
    expect(result.stdout).toContain('[dry-run] systemctl enable tvm-upload');
    expect(result.stdout).toContain('[dry-run] systemctl restart tvm-upload');
    expect(result.stdout).toMatch(/^User=root$/m);
  });

  it('changes nothing with --dry-run', async () => {
    const root = join(work, 'dry');
    await mkdir(root);
    const result = await run(script('install.sh'), ['--root', root, '--build', build, '--dry-run']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('[dry-run] cp -R');
    expect(await readdir(root)).toEqual([]);
  });
});
