import { appendFile, mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { selectAgeBased } from '@tvm/disk-guard';
import { openStateStore, type StateStore } from '@tvm/durable-queue';
import { createFakeClock, type FakeClock } from '@tvm/test-utils';
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentConfig } from '../src/config.js';
import { deletionCandidates } from '../src/deletion-candidates.js';
import { resolveLogDirectories, storeState } from '../src/deletion-plan.js';
import { IncidentRequestError, IncidentUploads } from '../src/incident/uploads.js';
import {
  captureLogger,
  configDocument,
  makeWorkspace,
  writeConfig,
  writeLog,
  type Workspace,
} from './helpers.js';

const DAY = 86_400_000;

interface Setup {
  ws: Workspace;
  config: AgentConfig;
  store: StateStore;
  clock: FakeClock;
  started: string[][];
  incident: IncidentUploads;
}

const open: Setup[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) {
    s.incident.close();
    await s.store.close();
  }
});

async function setup(): Promise<Setup> {
  const ws = await makeWorkspace();
  const config = await writeConfig(
    ws,
    configDocument(ws, 'http://127.0.0.1:9', 'b', { upload: { file_stable_seconds: 60 } }),
  );
  const clock = createFakeClock(Date.now());
  const logger = captureLogger();
  const store = await openStateStore({
    queueFile: join(ws.state, 'queue.json'),
    registryFile: join(ws.state, 'processed_files.json'),
    clock,
    logger,
    commitDelayMs: 0,
  });
  const started: string[][] = [];
  const incident = new IncidentUploads({
    store,
    pipeline: { uploadNow: (paths) => started.push([...paths]) },
    clock,
    logger,
    config: () => config,
    tickMs: 1000,
  });
  const s = { ws, config, store, clock, started, incident };
  open.push(s);
  return s;
}

async function identity(path: string) {
  const s = await stat(path);
  return { filepath: path, size: s.size, mtimeMs: s.mtimeMs, dev: s.dev, ino: s.ino };
}

describe('IncidentUploads', () => {
  it('queues, promotes, requeues, reports uploads and waits for files still being written', async () => {
    const { ws, store, clock, started, incident } = await setup();
    const dir = join(ws.logs, 'terminal');
    const now = clock.now();
    const paths = {
      fresh: join(dir, 'a-new.log'),
      queued: join(dir, 'b-queued.log'),
      failed: join(dir, 'c-failed.log'),
      uploaded: join(dir, 'd-uploaded.log'),
      writing: join(dir, 'e-writing.log'),
    };
    // Ten days old: past max_age_days (3), so no scan would queue them.
    await writeLog(paths.fresh, 'new\n', 10 * DAY);
    await writeLog(paths.queued, 'queued\n', 10 * DAY - 60_000);
    await writeLog(paths.failed, 'failed\n', 10 * DAY - 120_000);
    await writeLog(paths.uploaded, 'uploaded\n', 10 * DAY - 180_000);
    await writeLog(paths.writing, 'line 1\n', 0);
    await store.queue.add({ filepath: paths.queued, source: 'terminal', size: 7, mtimeMs: 1 });
    const failedId = await identity(paths.failed);
    await store.queue.add({ ...failedId, source: 'terminal' });
    await store.failed.add({ filepath: paths.failed, category: 'access-denied', message: 'AccessDenied' });
    await store.registry.mark({ ...(await identity(paths.uploaded)), key: 'v/terminal/d-uploaded.log' });

    // The window reaches into the future: the file being written was created after the fake clock's now.
    const view = await incident.create({ since: now - 11 * DAY, until: now + DAY });
    const intake = Object.fromEntries(view.files.map((f) => [f.path, [f.intake, f.state]]));
    expect(intake).toEqual({
      [paths.fresh]: ['queued', 'queued'],
      [paths.queued]: ['promoted', 'queued'],
      [paths.failed]: ['requeued', 'queued'],
      [paths.uploaded]: ['already-uploaded', 'already-uploaded'],
      [paths.writing]: ['waiting', 'waiting'],
    });
    expect(view.state).toBe('in-progress');
    expect(view.sources).toEqual(['terminal', 'ros', 'syslog', 'ros2']);
    expect(started).toEqual([[paths.fresh, paths.queued, paths.failed]]);
    expect(store.failed.has(paths.failed)).toBe(false);

    // The lane is persisted: a restart finds the entries in the incident lane (and resume() starts them).
    await store.flush();
    const persisted = JSON.parse(await readFile(join(ws.state, 'queue.json'), 'utf8')) as {
      files: Array<{ filepath: string; priority?: string }>;
    };
    expect(Object.fromEntries(persisted.files.map((e) => [e.filepath, e.priority]))).toEqual({
      [paths.fresh]: 'incident',
      [paths.queued]: 'incident',
      [paths.failed]: 'incident',
    });
    started.length = 0;
    incident.resume();
    expect(started.map((p) => [...p].sort())).toEqual([[paths.fresh, paths.queued, paths.failed]]);

    // Age-based deletion (max_age_days 1 here) never selects the queued old files before they are sent: only the
    // one already in S3.
    const candidates = deletionCandidates(storeState(store), await resolveLogDirectories([{ path: dir }]));
    expect(selectAgeBased(candidates, { maxAgeDays: 1, now }).map((s) => s.candidate.path)).toEqual([
      paths.uploaded,
    ]);

    // The file being written keeps changing: it waits; once unchanged for file_stable_seconds it goes.
    started.length = 0;
    await clock.advance(30_000);
    await appendFile(paths.writing, 'line 2\n');
    await clock.advance(30_000);
    expect(incident.get(view.id)?.files.find((f) => f.path === paths.writing)?.state).toBe('waiting');
    expect(started).toEqual([]);
    // Each step lets the tracker's real stat calls land too (a loaded machine answers them slowly).
    for (let i = 0; i < 200 && started.length === 0; i++) {
      await clock.advance(1000);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(started).toEqual([[paths.writing]]);
    expect(store.queue.get(paths.writing)).toMatchObject({ priority: 'incident', size: 14 });

    // Uploads land (as the pipeline records them) and a failure is reported with its category.
    for (const path of [paths.fresh, paths.queued, paths.writing]) {
      await store.registry.mark({ ...(await identity(path)), key: `k/${path}` });
      await store.queue.remove(path);
    }
    expect(incident.get(view.id)?.state).toBe('in-progress');
    await store.failed.add({
      filepath: paths.failed,
      category: 'access-denied',
      message: 'AccessDenied again',
    });
    const settled = incident.get(view.id);
    expect(settled?.state).toBe('failed');
    expect(settled?.counts).toEqual({
      waiting: 0,
      queued: 0,
      uploaded: 3,
      'already-uploaded': 1,
      failed: 1,
      missing: 0,
    });
    expect(settled?.files.find((f) => f.path === paths.failed)).toMatchObject({
      state: 'failed',
      error: { category: 'access-denied', message: 'AccessDenied again' },
    });
    expect(settled?.files.find((f) => f.path === paths.fresh)).toMatchObject({
      state: 'uploaded',
      key: `k/${paths.fresh}`,
    });
  });

  it('takes only the sources asked for, and names the configured ones for an unknown source', async () => {
    const { ws, clock, incident } = await setup();
    await mkdir(join(ws.logs, 'ros'), { recursive: true });
    await writeLog(join(ws.logs, 'ros', 'run.bag'), 'bag', DAY);
    await writeLog(join(ws.logs, 'terminal', 't.log'), 'log', DAY);
    const window = { since: clock.now() - 2 * DAY, until: clock.now() };
    const view = await incident.create(window, ['ros']);
    expect(view.files.map((f) => [f.source, f.state])).toEqual([['ros', 'queued']]);
    await expect(incident.create(window, ['ros', 'can'])).rejects.toThrow(
      new IncidentRequestError(
        'Unknown source "can"; the configured sources are terminal, ros, syslog, ros2',
      ),
    );
    expect(incident.get('nope')).toBeUndefined();
  });
});
