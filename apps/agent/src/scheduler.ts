import { readScheduleRecord, writeScheduleRecord, type ScheduleRecord } from './adapters/schedule-file.js';
import type { Clock } from './clock.js';
import { inBackground } from './background.js';
import type { AgentConfig } from './config.js';
import type { AgentLogger } from './logger.js';
import { dailyDue, nextIntervalRunAt } from './schedule.js';

/** What the scheduler starts; it decides only WHEN. */
export interface SchedulerJobs {
  uploadRun(reason: string): void;
  ageBasedCleanup(reason: string): Promise<void>;
}

/** Options of {@link Scheduler}. */
export interface SchedulerOptions {
  clock: Clock;
  logger: AgentLogger;
  /** `schedule.json` in the state directory. */
  recordFile: string;
  jobs: SchedulerJobs;
  /** How often the clock is looked at for daily jobs and the interval. @default 30000 */
  tickMs?: number;
}

/**
 * The upload schedule (`upload.schedule`: every N hours, or daily at a time) and the daily age-based cleanup.
 * What ran when is in `schedule.json`, so a reboot neither repeats nor skips a job. `configure()` applies a reloaded
 * config at once, without a restart.
 */
export class Scheduler {
  readonly #o: SchedulerOptions;
  readonly #stop = new AbortController();
  readonly #startedAt: number;
  #config: AgentConfig;
  #record: ScheduleRecord = {};
  #ticking: Promise<void> = Promise.resolve();

  private constructor(options: SchedulerOptions, config: AgentConfig) {
    this.#o = options;
    this.#config = config;
    this.#startedAt = options.clock.now();
  }

  /** Reads `schedule.json`, starts what is due (a missed daily job, an overdue interval run), then watches the clock. */
  static async start(options: SchedulerOptions, config: AgentConfig): Promise<Scheduler> {
    const scheduler = new Scheduler(options, config);
    scheduler.#record = await readScheduleRecord(options.recordFile);
    if (config.upload.schedule.mode === 'interval' && scheduler.#record.interval_run_at === undefined) {
      await scheduler.#remember({ interval_run_at: scheduler.#startedAt });
    }
    await scheduler.tick();
    inBackground(scheduler.#loop(), options.logger, 'The scheduler');
    return scheduler;
  }

  /** When the next interval run is due, if the schedule is an interval. */
  get nextRunAt(): number | undefined {
    const schedule = this.#config.upload.schedule;
    if (schedule.mode !== 'interval') return undefined;
    return nextIntervalRunAt(this.#record.interval_run_at, this.#startedAt, intervalMs(this.#config));
  }

  /** Applies a reloaded config: the next tick judges by it. */
  configure(config: AgentConfig): void {
    this.#config = config;
    inBackground(this.tick(), this.#o.logger, 'The scheduler');
  }

  /** Starts what is due now; ticks never overlap. */
  tick(): Promise<void> {
    this.#ticking = this.#ticking
      .then(() => this.#tick())
      .catch((error: unknown) => {
        this.#o.logger.error(`Scheduler failed: ${(error as Error).message}`);
      });
    return this.#ticking;
  }

  stop(): void {
    this.#stop.abort();
  }

  async #loop(): Promise<void> {
    for (;;) {
      await this.tick();
      try {
        await this.#o.clock.sleep(
          Math.min(this.#o.tickMs ?? 30_000, this.#untilNextRun()),
          this.#stop.signal,
        );
      } catch {
        return;
      }
    }
  }

  #untilNextRun(): number {
    const next = this.nextRunAt;
    return next === undefined ? Infinity : Math.max(0, next - this.#o.clock.now());
  }

  async #tick(): Promise<void> {
    if (this.#stop.signal.aborted) return;
    const now = this.#o.clock.now();
    const { schedule, timezone: tz } = this.#config.upload;
    const next = this.nextRunAt;
    if (next !== undefined && next <= now) {
      await this.#remember({ interval_run_at: now });
      this.#o.jobs.uploadRun(`scheduled every ${schedule.interval_hours} h ${schedule.interval_minutes} min`);
    }
    if (schedule.mode === 'daily') {
      const due = dailyDue(now, schedule.daily_time, tz, this.#record.daily_upload);
      if (due.due) {
        await this.#remember({ daily_upload: due.occurrence });
        this.#o.jobs.uploadRun(`daily upload at ${schedule.daily_time} (${due.occurrence})`);
      }
    }
    const ageBased = this.#config.deletion.age_based;
    if (ageBased.enabled) {
      const due = dailyDue(now, ageBased.schedule_time, tz, this.#record.age_based_cleanup);
      if (due.due) {
        await this.#remember({ age_based_cleanup: due.occurrence });
        await this.#o.jobs.ageBasedCleanup(`daily at ${ageBased.schedule_time}`);
      }
    }
  }

  async #remember(patch: ScheduleRecord): Promise<void> {
    this.#record = { ...this.#record, ...patch };
    await writeScheduleRecord(this.#o.recordFile, this.#record).catch((error: unknown) =>
      this.#o.logger.warn(`Cannot write ${this.#o.recordFile}: ${(error as Error).message}`),
    );
  }
}

function intervalMs(config: AgentConfig): number {
  const { interval_hours, interval_minutes } = config.upload.schedule;
  return (interval_hours * 60 + interval_minutes) * 60_000;
}
