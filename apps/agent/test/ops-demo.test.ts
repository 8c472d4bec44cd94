import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { isolatedEnv } from './ops-harness.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tvm-demo-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the local demo (pnpm start)', () => {
  it('uploads generated logs through the real agent, deletes them per policy, and stops cleanly on Ctrl-C', async () => {
    // `pnpm start` as README's Quick start types it, in a process group of its own: Ctrl-C in a terminal sends
    // SIGINT to the whole foreground group (pnpm, sh, node, the agent), and pnpm must then exit 0.
    const child = spawn('pnpm', ['start', '--', '--dir', dir, '--port', '0'], {
      cwd: repo,
      env: isolatedEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const ctrlC = () => {
      try {
        process.kill(-child.pid!, 'SIGINT');
      } catch {
        // the group is gone
      }
    };
    onTestFinished(() => {
      if (child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(-child.pid!, 'SIGKILL'); // a failed assertion must not leave the demo running
        } catch {
          // the group is gone
        }
      }
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

    // Wait for the large file's multipart upload to finish: by then every kind of event has been shown.
    const deadline = Date.now() + 60_000;
    while (!/Uploaded \S+recording\.bag/.test(output) && Date.now() < deadline && child.exitCode === null) {
      await new Promise((r) => setTimeout(r, 250));
    }
    // The crash report overtook the bag: the bag paused after a part and finished later.
    expect(output).toMatch(
      /Pausing the low-lane upload of \S+recording\.bag after its current part: \S+\.crash \(high lane\)/,
    );
    expect(output.search(/Uploaded \S+\.crash/)).toBeLessThan(output.search(/Uploaded \S+recording\.bag/));
    expect(output.search(/Uploaded \S+\.crash/)).toBeGreaterThan(-1);
    // The command the demo prints to list what landed works as printed (when the AWS CLI is installed).
    const listCommand =
      /(AWS_ACCESS_KEY_ID=\S+ AWS_SECRET_ACCESS_KEY=\S+ aws --endpoint-url \S+ .*--recursive)/.exec(
        output,
      )?.[1];
    if (spawnSync('sh', ['-c', 'command -v aws']).status === 0 && listCommand) {
      const listed = spawnSync('bash', ['-c', listCommand], {
        cwd: repo, // where pnpm start ran, so the paths it printed hold
        encoding: 'utf8',
        env: isolatedEnv(),
        timeout: 30_000,
      });
      expect(listed.stdout).toMatch(/demo-vehicle-001\/\d{4}-\d\d-\d\d\/ros\/.+\/recording\.bag/);
    } else {
      process.stdout.write('SKIP: the AWS CLI is not installed; the printed aws s3 ls command was not run\n');
    }
    // So does the status command it prints: the agent reports itself running, from any shell.
    const statusCommand = /the agent's own view: (node \S+ status --config \S+)/.exec(output)?.[1];
    expect(statusCommand).toBeDefined();
    const status = spawnSync('bash', ['-c', statusCommand ?? 'false'], {
      cwd: repo,
      encoding: 'utf8',
      env: isolatedEnv(),
    });
    expect(status.stdout).toMatch(/tvm-upload status for demo-vehicle-001: agent running \(pid \d+\)/);
    expect(status.stderr).not.toContain('warning');
    ctrlC();
    expect(await exited).toBe(0);
    expect(output).not.toContain('Command failed');

    expect(output).toMatch(/s3rver listening on http:\/\/127\.0\.0\.1:\d+/);
    expect(output).toMatch(
      /aws --endpoint-url http:\/\/127\.0\.0\.1:\d+ --region cn-north-1 s3 ls s3:\/\/tvm-demo --recursive/,
    );
    expect(output).toMatch(/agent +Queued \S+\/logs\/terminal\/terminal_\d+\.log/);
    expect(output).toMatch(
      /agent +Uploaded \S+ to s3:\/\/tvm-demo\/demo-vehicle-001\/\d{4}-\d\d-\d\d\/ros\/[^/]+\/camera_node\/stdout\.log/,
    );
    expect(output).toMatch(/progress +\[#*\.*\] \d+\/48 MiB \S+recording\.bag/);
    expect(output).toMatch(/agent +Deleted \S+ \(\d+ bytes/);
    expect(output).toContain('Ctrl-C: stopping the generator');
    expect(output).toMatch(/agent +Stopped/);
    expect(output).toMatch(/\d+ object\(s\) in s3:\/\/tvm-demo/);
    expect(output).not.toMatch(/NodeVersionSupportWarning/);
    // The objects are on disk where the demo said.
    expect(await readdir(join(dir, 's3', 'tvm-demo', 'demo-vehicle-001'))).toHaveLength(1);
  }, 90_000);
});
