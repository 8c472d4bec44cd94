import { describe, expect, it } from 'vitest';
import { OPS_USAGE } from '../src/commands/index.js';
import { joinTimeValues, uploadCommand } from '../src/commands/upload.js';
import { ControlServer, controlSocketPath } from '../src/control/index.js';
import type { IncidentFileView, IncidentRequestView } from '../src/incident/uploads.js';
import { IncidentTimeError, parseIncidentTime, parseIncidentWindow } from '../src/incident/time.js';
import { selectWindow, type ListedFile } from '../src/incident/window.js';
import { configDocument, makeWorkspace, writeConfig } from './helpers.js';

// 2026-12-01 14:05:30 UTC = 22:05:30 in Asia/Shanghai (UTC+8, no DST).
const NOW = Date.UTC(2026, 11, 1, 14, 5, 30);

describe('parseIncidentTime', () => {
  it('reads HH:MM as today in upload.timezone', () => {
    expect(parseIncidentTime('10:00', '--since', NOW, 'Asia/Shanghai')).toBe(Date.UTC(2026, 11, 1, 2, 0));
    expect(parseIncidentTime('10:30:15', '--since', NOW, 'UTC')).toBe(Date.UTC(2026, 11, 1, 10, 30, 15));
    // "Today" is the zone's date: 14:05 UTC is 23:05 on 1 December in Tokyo, so 00:15 is 30 November 15:15 UTC.
    expect(parseIncidentTime('00:15', '--since', NOW, 'Asia/Tokyo')).toBe(Date.UTC(2026, 10, 30, 15, 15));
    // A zone with DST (New York is UTC-5 in December).
    expect(parseIncidentTime('09:00', '--since', NOW, 'America/New_York')).toBe(Date.UTC(2026, 11, 1, 14, 0));
    // Summer time (UTC-4) on another day.
    const july = Date.UTC(2026, 6, 10, 18);
    expect(parseIncidentTime('09:00', '--since', july, 'America/New_York')).toBe(
      Date.UTC(2026, 6, 10, 13, 0),
    );
  });

  it('reads ISO 8601, with a zone or as wall-clock time in upload.timezone', () => {
    expect(parseIncidentTime('2026-11-28T10:00:00Z', '--since', NOW, 'Asia/Shanghai')).toBe(
      Date.UTC(2026, 10, 28, 10),
    );
    expect(parseIncidentTime('2026-11-28T10:00+08:00', '--since', NOW, 'UTC')).toBe(
      Date.UTC(2026, 10, 28, 2),
    );
    expect(parseIncidentTime('2026-11-28T10:00:00-0530', '--since', NOW, 'UTC')).toBe(
      Date.UTC(2026, 10, 28, 15, 30),
    );
    expect(parseIncidentTime('2026-11-28 10:00', '--since', NOW, 'Asia/Shanghai')).toBe(
      Date.UTC(2026, 10, 28, 2),
    );
    expect(parseIncidentTime('2026-11-28', '--since', NOW, 'Asia/Shanghai')).toBe(Date.UTC(2026, 10, 27, 16));
    expect(parseIncidentTime('2026-11-28T10:00:00.250Z', '--since', NOW, 'UTC')).toBe(
      Date.UTC(2026, 10, 28, 10, 0, 0, 250),
    );
  });

  it('reads offsets from now and "now"', () => {
    expect(parseIncidentTime('-30m', '--since', NOW, 'UTC')).toBe(NOW - 30 * 60_000);
    expect(parseIncidentTime('-2h', '--since', NOW, 'UTC')).toBe(NOW - 2 * 3_600_000);
    expect(parseIncidentTime('-1d', '--since', NOW, 'UTC')).toBe(NOW - 86_400_000);
    expect(parseIncidentTime('-45s', '--until', NOW, 'UTC')).toBe(NOW - 45_000);
    expect(parseIncidentTime('now', '--until', NOW, 'UTC')).toBe(NOW);
  });

  it('refuses what it cannot read, naming the option and the forms', () => {
    for (const text of [
      '',
      'yesterday',
      '25:00',
      '10:60',
      '2026-02-30T10:00',
      '2026-13-01',
      '-5w',
      '30m',
      '+1h',
    ]) {
      expect(() => parseIncidentTime(text, '--until', NOW, 'Asia/Shanghai'), text).toThrow(IncidentTimeError);
    }
    expect(() => parseIncidentTime('10h00', '--since', NOW, 'Asia/Shanghai')).toThrow(
      '--since: cannot read "10h00" as a time; expected HH:MM (today, in Asia/Shanghai), ISO 8601',
    );
  });
});

describe('parseIncidentWindow', () => {
  it('defaults --until to now and requires --since', () => {
    expect(parseIncidentWindow({ since: '-1h', until: undefined }, NOW, 'UTC')).toEqual({
      since: NOW - 3_600_000,
      until: NOW,
    });
    expect(() => parseIncidentWindow({ since: undefined, until: '10:00' }, NOW, 'UTC')).toThrow(
      '--since is required',
    );
  });

  it('refuses a window that ends before it starts', () => {
    expect(() => parseIncidentWindow({ since: '10:30', until: '10:00' }, NOW, 'UTC')).toThrow(
      '--since (2026-12-01T10:30:00.000Z) is after --until (2026-12-01T10:00:00.000Z)',
    );
  });
});

describe('joinTimeValues', () => {
  it('keeps an offset after --since/--until as their value', () => {
    expect(joinTimeValues(['--since', '-30m', '--until', '-5m', '--wait'])).toEqual([
      '--since=-30m',
      '--until=-5m',
      '--wait',
    ]);
    expect(joinTimeValues(['--since', '10:00', '--json'])).toEqual(['--since', '10:00', '--json']);
  });
});

describe('selectWindow', () => {
  const T = (hhmm: string) => Date.UTC(2026, 11, 1, Number(hhmm.slice(0, 2)), Number(hhmm.slice(3)));
  const file = (path: string, mtime: string, birth?: string): ListedFile => ({
    path,
    source: 'terminal',
    size: 1,
    mtimeMs: T(mtime),
    dev: 1,
    ino: path.length,
    ...(birth === undefined ? {} : { birthtimeMs: T(birth) }),
  });
  const window = { since: T('10:00'), until: T('10:30') };
  const paths = (files: ListedFile[]) => selectWindow(files, window).map((f) => f.path);

  it('judges each file by its birth time and mtime when the filesystem records a birth', () => {
    const files = [
      file('/l/before.log', '09:59', '09:00'), // last written before the window
      file('/l/across.log', '11:00', '09:30'), // written across the whole window
      file('/l/inside.log', '10:10', '10:05'),
      file('/l/starts-in.log', '12:00', '10:30'), // first write at the window's end: in
      file('/l/after.log', '12:30', '10:31'), // born after the window
      file('/l/at-since.log', '10:00', '08:00'), // last write exactly at since: in
    ];
    expect(paths(files)).toEqual(['/l/across.log', '/l/inside.log', '/l/starts-in.log', '/l/at-since.log']);
  });

  it('without a usable birth time, a file starts where the previous file of its folder ended', () => {
    const files = [
      file('/l/syslog.3', '09:00'), // oldest: unbounded start, but last written before the window
      file('/l/syslog.2', '10:20'), // previous ended 09:00: in
      file('/l/syslog.1', '11:00'), // previous ended 10:20, inside the window: in
      file('/l/syslog', '12:00', '13:00'), // birth after its mtime (cp -p): ignored; previous ended 11:00: out
      file('/other/first.log', '10:45'), // oldest of its folder: unbounded start, so in
      file('/other/second.log', '11:30'), // previous ended 10:45, after the window: out
    ];
    expect(paths(files)).toEqual(['/l/syslog.2', '/l/syslog.1', '/other/first.log']);
  });

  it('keeps the order it was given and selects nothing from an empty listing', () => {
    expect(paths([])).toEqual([]);
    const b = file('/l/b', '10:10', '10:00');
    const a = file('/l/a', '10:20', '10:15');
    expect(paths([a, b])).toEqual(['/l/a', '/l/b']);
  });
});

describe('tvm-upload upload against a scripted daemon', () => {
  const file = (path: string, state: IncidentFileView['state'], extra: Partial<IncidentFileView> = {}) =>
    ({
      path,
      source: 'terminal',
      size: 10,
      mtimeMs: NOW,
      intake: 'queued',
      state,
      ...extra,
    }) as IncidentFileView;
  const view = (files: IncidentFileView[], state: IncidentRequestView['state']): IncidentRequestView => {
    const counts = { waiting: 0, queued: 0, uploaded: 0, 'already-uploaded': 0, failed: 0, missing: 0 };
    for (const f of files) counts[f.state]++;
    return {
      id: 'r1',
      createdAt: NOW,
      since: NOW - 3_600_000,
      until: NOW,
      sources: ['terminal'],
      state,
      counts,
      files,
    };
  };

  async function daemon(answers: IncidentRequestView[]) {
    const ws = await makeWorkspace();
    const config = await writeConfig(ws, configDocument(ws, 'http://127.0.0.1:9', 'b'));
    const server = new ControlServer();
    const posted: unknown[] = [];
    let polls = 0;
    server.route('POST', '/v1/uploads', ({ body }) => {
      posted.push(body);
      return { status: 201, body: answers[0] };
    });
    server.route('GET', '/v1/uploads/:id', () => {
      polls++;
      const answer = answers[Math.min(polls, answers.length - 1)];
      // The daemon stops while it answers its last request (a SIGTERM mid-poll): the connection is reset.
      if (polls >= answers.length) server.close().catch(() => undefined);
      return { body: answer };
    });
    await server.listen(controlSocketPath(config));
    return { ws, server, posted };
  }

  const io = (isTty = false) => {
    const out: string[] = [];
    const err: string[] = [];
    return {
      out,
      err,
      io: { stdout: (t: string) => out.push(t), stderr: (t: string) => err.push(t), isTty, now: Date.now },
    };
  };

  it('prints --help, and a line per file landed until every file is in S3', async () => {
    const help = io();
    expect(await uploadCommand(['--help'], help.io)).toBe(0);
    expect(help.out.join('')).toMatch(/^Usage: tvm-upload upload --since <time>/);
    expect(OPS_USAGE).toContain('tvm-upload upload --since <time> [--until <time>] [--source <name>]...');

    const a = '/l/terminal/a.log';
    const b = '/l/terminal/b.log';
    const { ws, server, posted } = await daemon([
      view(
        [file(a, 'queued'), file(b, 'already-uploaded', { intake: 'already-uploaded', key: 'k/b' })],
        'in-progress',
      ),
      view([file(a, 'uploaded', { key: 'k/a' }), file(b, 'already-uploaded', { key: 'k/b' })], 'done'),
    ]);
    try {
      const run = io();
      const code = await uploadCommand(
        ['--since', '-1h', '--source', 'terminal', '--wait', '--config', ws.configFile],
        run.io,
      );
      expect(run.err.join('')).toBe('');
      expect(code).toBe(0);
      expect(posted).toEqual([
        { since: expect.any(Number), until: expect.any(Number), sources: ['terminal'] },
      ]);
      const out = run.out.join('');
      expect(out).toContain(`  ${b} (10 B): already uploaded as k/b\n`);
      expect(out).toContain(`uploaded ${a} -> k/a (2/2)\n`);
      expect(out).toContain(
        'Done: every file of the window is in S3 (2 file(s): 2 in S3 (1 already uploaded before))',
      );
    } finally {
      await server.close();
    }
  });

  it('exits 1 with the category and message of a file that failed for good (a bar on a terminal)', async () => {
    const a = '/l/terminal/a.log';
    const { ws, server } = await daemon([
      view([file(a, 'queued')], 'in-progress'),
      view(
        [file(a, 'failed', { error: { category: 'access-denied', message: 'AccessDenied: nope' } })],
        'failed',
      ),
    ]);
    try {
      const run = io(true);
      expect(await uploadCommand(['--since', '-1h', '--wait', '--config', ws.configFile], run.io)).toBe(1);
      expect(run.out.join('')).toContain('\r[                              ] 0/1 file(s) in S3');
      expect(run.err.join('')).toContain(`  ${a}: FAILED: access-denied: AccessDenied: nope\n`);
    } finally {
      await server.close();
    }
  });

  it('exits 1 when the daemon stops before every file is in S3', async () => {
    const a = '/l/terminal/a.log';
    const queued = view([file(a, 'queued')], 'in-progress');
    const { ws, server } = await daemon([queued, queued]);
    try {
      const run = io();
      expect(
        await uploadCommand(['--since', '-1h', '--wait', '--json', '--config', ws.configFile], run.io),
      ).toBe(1);
      const report = JSON.parse(run.out.join('')) as { ok: boolean; error: string };
      expect(report.ok).toBe(false);
      expect(report.error).toMatch(
        /^The agent stopped before every file was in S3 \(1 file\(s\): 0 in S3, 1 queued\)/,
      );
    } finally {
      await server.close();
    }
  });
});
