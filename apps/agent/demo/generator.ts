import { randomBytes } from 'node:crypto';
import { appendFile, mkdir, rename, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Options of {@link runGenerator}. */
export interface GeneratorOptions {
  /** The demo's log root: terminal/, ros/ and syslog/ are created in it. */
  logs: string;
  /** Called once per file written or rotated, for the demo's output. */
  onFile: (message: string) => void;
  signal: AbortSignal;
  /** Size of the one large ROS bag written early in the demo (shows a multipart upload). @default 48 MiB */
  largeFileBytes?: number;
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** ROS 1 names a run folder `YYYY-MM-DD-HH-MM-SS-micro-host-pid`. */
function rosRunName(now: Date): string {
  const d = `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
  const t = `${pad(now.getHours())}-${pad(now.getMinutes())}-${pad(now.getSeconds())}`;
  return `${d}-${t}-${pad(now.getMilliseconds() * 1000, 6)}-${hostname().replace(/[^A-Za-z0-9]/g, '')}-${process.pid}`;
}

function logLine(source: string, i: number): string {
  return `[${new Date().toISOString()}] [${source}] [INFO] message ${i}: speed=${(Math.random() * 20).toFixed(2)} m/s\n`;
}

/** Appends `lines` lines to `file` over `seconds`, like a process that logs and then exits. */
async function writeOver(
  file: string,
  source: string,
  lines: number,
  seconds: number,
  signal: AbortSignal,
): Promise<void> {
  for (let i = 0; i < lines && !signal.aborted; i++) {
    await appendFile(file, logLine(source, i));
    await sleep((seconds * 1000) / lines, undefined, { signal }).catch(() => undefined);
  }
}

/**
 * Writes vehicle-like logs until `signal` aborts: a terminal log every few seconds, ROS run folders with nested
 * node directories (and one large bag), and a syslog that is rotated logrotate-style (`syslog` -> `syslog.1`).
 */
export async function runGenerator(options: GeneratorOptions): Promise<void> {
  const { logs, onFile, signal } = options;
  const terminal = join(logs, 'terminal');
  const ros = join(logs, 'ros');
  const syslog = join(logs, 'syslog');
  for (const dir of [terminal, ros, syslog]) await mkdir(dir, { recursive: true });
  const tasks: Array<Promise<void>> = [];
  let cycle = 0;
  let largeWritten = false;
  while (!signal.aborted) {
    cycle += 1;
    const now = new Date();
    // A terminal session log, written over a few seconds (the agent waits until it is stable).
    const term = join(
      terminal,
      `terminal_${pad(now.getHours())}${pad(now.getMinutes())}${pad(now.getSeconds())}.log`,
    );
    tasks.push(writeOver(term, 'terminal', 20, 2, signal).then(() => onFile(`wrote ${term}`)));

    if (cycle % 2 === 1 || (cycle === 2 && !largeWritten)) {
      // A ROS run: a folder per launch, with nested per-node folders.
      const run = join(ros, rosRunName(now));
      await mkdir(join(run, 'camera_node'), { recursive: true });
      tasks.push(
        Promise.all([
          writeOver(join(run, 'launch.log'), 'roslaunch', 15, 3, signal),
          writeOver(join(run, 'rosout.log'), 'rosout', 30, 3, signal),
          writeOver(join(run, 'camera_node', 'stdout.log'), 'camera_node', 10, 3, signal),
        ]).then(() => onFile(`wrote ROS run ${run} (launch.log, rosout.log, camera_node/stdout.log)`)),
      );
      if (!largeWritten && cycle >= 2) {
        largeWritten = true;
        const bag = join(run, 'recording.bag');
        const size = options.largeFileBytes ?? 48 * 1024 * 1024;
        const chunk = randomBytes(1024 * 1024);
        await writeFile(bag, '');
        for (let written = 0; written < size && !signal.aborted; written += chunk.length) {
          await appendFile(bag, chunk.subarray(0, Math.min(chunk.length, size - written)));
        }
        onFile(
          `wrote large file ${bag} (${Math.round(size / 1024 / 1024)} MiB: a multipart upload, lane low)`,
        );
        // While the bag uploads, a crash report (lane high) appears: it overtakes the bag, which pauses after its
        // current part and resumes afterwards with the same multipart upload.
        tasks.push(
          sleep(4000, undefined, { signal })
            .then(async () => {
              const crash = join(terminal, `planner_${pad(now.getHours())}${pad(now.getMinutes())}.crash`);
              await writeFile(crash, `planner crashed: SIGSEGV in trajectory_optimizer\n`.repeat(20));
              onFile(`wrote crash report ${crash} (lane high: overtakes the bag)`);
            })
            .catch(() => undefined),
        );
      }
    }

    // The live syslog grows; every fourth cycle logrotate renames it, and only rotated files are uploaded.
    const live = join(syslog, 'syslog');
    await appendFile(live, `${now.toISOString()} demo-host kernel: cycle ${cycle}\n`);
    if (cycle % 4 === 0) {
      const rotated = join(syslog, `syslog.${cycle / 4}`);
      await rename(live, rotated);
      onFile(`rotated ${live} -> ${rotated}`);
      await writeFile(live, '');
    }
    await sleep(4000, undefined, { signal }).catch(() => undefined);
  }
  await Promise.allSettled(tasks);
}
