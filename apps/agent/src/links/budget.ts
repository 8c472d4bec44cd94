import { readFile, rename } from 'node:fs/promises';
import { writeFileAtomic } from '@tvm/durable-queue';
import type { Clock } from '../clock.js';
import type { AgentLogger } from '../logger.js';
import { localParts } from '../object-key.js';

/** `upload.networks.metered_daily_budget_mb` counts in decimal megabytes, as mobile data plans do. */
export const BUDGET_MB = 1_000_000;

/** Bytes in the budget's unit, `12.3 MB` (10^6 bytes); under 0.1 MB in bytes, `512 B`. */
export function formatMB(bytes: number): string {
  return bytes < BUDGET_MB / 10 ? `${bytes} B` : `${(bytes / BUDGET_MB).toFixed(1)} MB`;
}

/** What the budget file holds: the local day it counts (`YYYY-MM-DD` in `upload.timezone`) and the bytes sent. */
export interface BudgetRecord {
  day: string;
  usedBytes: number;
}

/** The local day of `now` in `timeZone` (`local` or an IANA name): the budget resets when it changes. */
export function budgetDay(now: number, timeZone: string): string {
  return localParts(now, timeZone).date;
}

/** Bytes of today's budget already used: a record of another day counts nothing (it reset at local midnight). */
export function usedOn(record: BudgetRecord, day: string): number {
  return record.day === day ? record.usedBytes : 0;
}

/** The record after `bytes` more were sent on `day`. */
export function spend(record: BudgetRecord, day: string, bytes: number): BudgetRecord {
  return { day, usedBytes: usedOn(record, day) + Math.max(0, bytes) };
}

/** Reads a budget file's text; undefined when it is not one (corrupt, truncated, another shape). */
export function parseBudget(text: string): BudgetRecord | undefined {
  try {
    const value = JSON.parse(text) as Partial<BudgetRecord> | null;
    if (
      typeof value?.day !== 'string' ||
      !/^\d{4}-\d{2}-\d{2}$/.test(value.day) ||
      typeof value.usedBytes !== 'number' ||
      !Number.isFinite(value.usedBytes) ||
      value.usedBytes < 0
    ) {
      return undefined;
    }
    return { day: value.day, usedBytes: value.usedBytes };
  } catch {
    return undefined;
  }
}

/** The name of the budget file in the state directory. */
export const BUDGET_FILE = 'metered-budget.json';

/**
 * Today's metered budget, persisted in the state directory (`metered-budget.json`) so that a restart does not
 * grant a fresh budget. Each change is written atomically (temp file, fsync, rename) in the background, one write
 * at a time; a corrupt file is set aside as `<file>.corrupt-<time>` and the day starts from zero (logged).
 */
export class BudgetStore {
  readonly #path: string;
  readonly #clock: Clock;
  readonly #timeZone: () => string;
  readonly #logger: AgentLogger;
  #record: BudgetRecord;
  #writing: Promise<void> | undefined;
  #again = false;

  private constructor(
    path: string,
    clock: Clock,
    timeZone: () => string,
    logger: AgentLogger,
    record: BudgetRecord,
  ) {
    this.#path = path;
    this.#clock = clock;
    this.#timeZone = timeZone;
    this.#logger = logger;
    this.#record = record;
  }

  /** Loads the file (missing = nothing used yet). */
  static async open(
    path: string,
    clock: Clock,
    timeZone: () => string,
    logger: AgentLogger,
  ): Promise<BudgetStore> {
    const today = budgetDay(clock.now(), timeZone());
    let text: string | undefined;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    let record: BudgetRecord = { day: today, usedBytes: 0 };
    if (text !== undefined) {
      const parsed = parseBudget(text);
      if (parsed) record = parsed;
      else {
        const aside = `${path}.corrupt-${new Date(clock.now()).toISOString().replace(/[:.]/g, '-')}`;
        await rename(path, aside);
        logger.error(`${path} is corrupt; kept it as ${aside}; today's metered budget counts from 0`);
      }
    }
    return new BudgetStore(path, clock, timeZone, logger, record);
  }

  /** The local day now. */
  today(): string {
    return budgetDay(this.#clock.now(), this.#timeZone());
  }

  /** Bytes sent on metered links today. */
  usedToday(): number {
    return usedOn(this.#record, this.today());
  }

  /** Counts bytes sent on a metered link and writes the file (in the background). */
  add(bytes: number): void {
    if (bytes <= 0) return;
    this.#record = spend(this.#record, this.today(), bytes);
    this.#write();
  }

  /** Resolves once every change so far is on disk (tests, shutdown). */
  async flush(): Promise<void> {
    while (this.#writing) await this.#writing;
  }

  #write(): void {
    if (this.#writing) {
      this.#again = true;
      return;
    }
    this.#writing = (async () => {
      do {
        this.#again = false;
        try {
          await writeFileAtomic(this.#path, `${JSON.stringify(this.#record)}\n`);
        } catch (error) {
          this.#logger.error(`Writing ${this.#path} failed: ${(error as Error).message}`);
        }
      } while (this.#again);
      this.#writing = undefined;
    })();
  }
}
