import { createTokenBucket, type TokenBucket } from '@tvm/s3-uploader';
import { inBackground } from '../background.js';
import type { Clock } from '../clock.js';
import type { AgentLogger } from '../logger.js';
import { describeEntry, describeLimit, formatRate, limitAt, type BandwidthLimit } from './timetable.js';

/** Where the limit in force comes from. */
export type BandwidthSource = 'config' | 'timetable' | 'command';

/** The limit in force, as `tvm-upload bandwidth` and `status` show it. */
export interface BandwidthState {
  /** Bytes per second; 0 = unlimited. */
  bytesPerSecond: number;
  /** `512 KiB/s`, or `off`. */
  rate: string;
  source: BandwidthSource;
  /** The timetable entry in force (`08:00,512 KiB/s`): the one in force now, or, under a command, the one overridden. */
  entry?: string;
  /** Epoch ms of the next timetable boundary: when the timetable (or a command's override) next changes the limit. */
  until?: number;
  /** `upload.bandwidth_limit` as configured (`2 MiB/s`, `08:00,512 KiB/s 23:00,off`). */
  configured: string;
  /** `upload.timezone`, in which the timetable's times are read. */
  timeZone: string;
}

// However far the next boundary, the timetable is looked at again this often: a clock set by NTP after boot (or a
// suspended vehicle) must not leave a stale limit in force for hours.
const RECHECK_MS = 60_000;

/**
 * The agent's one bandwidth limit: a live token bucket shared by every S3 client the agent builds, set from
 * `upload.bandwidth_limit` (a rate, or a timetable applied at each boundary on the agent's clock), or for a while by
 * `tvm-upload bandwidth` (until the next timetable boundary, a reload that changes the limit, or a restart).
 * Uploads in flight continue at each new rate.
 */
export class BandwidthController {
  readonly bucket: TokenBucket;
  #limit: BandwidthLimit;
  #timeZone: string;
  #override: { bytesPerSecond: number; until?: number } | undefined;
  #wake = new AbortController();
  readonly #stop = new AbortController();
  #last: string | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly logger: AgentLogger,
    limit: BandwidthLimit,
    timeZone: string,
  ) {
    this.#limit = limit;
    this.#timeZone = timeZone;
    this.bucket = createTokenBucket(clock, limitAt(limit, clock.now(), timeZone).bytesPerSecond, {
      live: true,
    });
    this.#apply();
    inBackground(this.#run(), logger, 'The bandwidth timetable');
  }

  /** The limit in force now and where it comes from. */
  state(): BandwidthState {
    const now = this.clock.now();
    const scheduled = limitAt(this.#limit, now, this.#timeZone);
    const common = { configured: describeLimit(this.#limit), timeZone: this.#timeZone };
    const entry =
      scheduled.entry === undefined ? {} : { entry: describeEntry(this.#limit.entries[scheduled.entry]!) };
    const until = scheduled.nextBoundaryAt === undefined ? {} : { until: scheduled.nextBoundaryAt };
    if (this.#override && (this.#override.until === undefined || now < this.#override.until)) {
      const bytesPerSecond = this.#override.bytesPerSecond;
      return {
        bytesPerSecond,
        rate: formatRate(bytesPerSecond),
        source: 'command',
        ...entry,
        ...until,
        ...common,
      };
    }
    const bytesPerSecond = scheduled.bytesPerSecond;
    return {
      bytesPerSecond,
      rate: formatRate(bytesPerSecond),
      source: scheduled.entry === undefined ? 'config' : 'timetable',
      ...entry,
      ...until,
      ...common,
    };
  }

  /** `tvm-upload bandwidth <rate|off>`: sets the limit now, until the next timetable boundary (or a restart). */
  override(bytesPerSecond: number): BandwidthState {
    const { nextBoundaryAt } = limitAt(this.#limit, this.clock.now(), this.#timeZone);
    this.#override = { bytesPerSecond, ...(nextBoundaryAt === undefined ? {} : { until: nextBoundaryAt }) };
    return this.#apply();
  }

  /** A reload that changed `upload.bandwidth_limit` or `upload.timezone`: the new config wins over a command. */
  configure(limit: BandwidthLimit, timeZone: string): void {
    const changed = describeLimit(limit) !== describeLimit(this.#limit);
    this.#limit = limit;
    this.#timeZone = timeZone;
    if (changed) this.#override = undefined;
    this.#apply();
    this.#wake.abort(); // the timer re-reads the next boundary
  }

  close(): void {
    this.#stop.abort();
  }

  #apply(): BandwidthState {
    const state = this.state();
    if (this.#override && state.source !== 'command') this.#override = undefined; // its boundary passed
    this.bucket.setRate(state.bytesPerSecond);
    const line = describeState(state);
    if (line !== this.#last) {
      if (this.#last !== undefined) this.logger.info(`Bandwidth limit: ${line}`);
      this.#last = line;
    }
    return state;
  }

  async #run(): Promise<void> {
    while (!this.#stop.signal.aborted) {
      const until = this.state().until;
      const ms =
        until === undefined ? RECHECK_MS : Math.min(RECHECK_MS, Math.max(0, until - this.clock.now()));
      const wake = this.#wake;
      const both = new AbortController();
      const abort = (): void => both.abort();
      this.#stop.signal.addEventListener('abort', abort, { once: true });
      wake.signal.addEventListener('abort', abort, { once: true });
      try {
        await this.clock.sleep(ms, both.signal);
      } catch {
        // stopped, or woken by a reload
      } finally {
        this.#stop.signal.removeEventListener('abort', abort);
        wake.signal.removeEventListener('abort', abort);
      }
      if (wake.signal.aborted) this.#wake = new AbortController();
      if (!this.#stop.signal.aborted) this.#apply();
    }
  }
}

/** `512 KiB/s (timetable entry 08:00,512 KiB/s, until 2026-03-02T10:00:00.000Z)`: one line for logs and commands. */
export function describeState(state: BandwidthState): string {
  const until = state.until === undefined ? '' : `, until ${new Date(state.until).toISOString()}`;
  switch (state.source) {
    case 'config':
      return `${state.rate} (upload.bandwidth_limit)`;
    case 'timetable':
      return `${state.rate} (timetable entry ${state.entry ?? ''}${until})`;
    case 'command':
      return `${state.rate} (set by tvm-upload bandwidth${state.until === undefined ? ', until restart' : `${until}, the next timetable boundary`})`;
  }
}
