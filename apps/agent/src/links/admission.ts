import type { QueueEntry } from '@tvm/durable-queue';
import { inBackground } from '../background.js';
import type { Clock } from '../clock.js';
import type { Lane } from '../lanes.js';
import type { AgentLogger } from '../logger.js';
import type { Admission } from '../pipeline/ports.js';
import { formatMB, type BudgetStore } from './budget.js';
import type { LinkState } from './link.js';

/** What the metered rule needs to know, judged afresh each time. */
export interface MeteredRule {
  /** Lanes that may use a metered link; `incident` always may. */
  meteredLanes: readonly Lane[];
  /** Bytes a day on metered links. */
  budgetBytes: number;
}

/** Why a file may not go (now) on this link, or undefined when it may. Pure. */
export function meteredVerdict(input: {
  link: LinkState;
  lane: Lane;
  /** Bytes this file still has to send. */
  bytes: number;
  /** Bytes of today's budget not yet used or promised to uploads in flight. */
  leftBytes: number;
  rule: MeteredRule;
}): string | undefined {
  const { link, lane, bytes, leftBytes, rule } = input;
  if (link.class !== 'metered') return undefined;
  if (lane !== 'incident' && !rule.meteredLanes.includes(lane)) {
    const allowed = rule.meteredLanes.length > 0 ? rule.meteredLanes.join(', ') : 'none';
    return `the route to S3 is over ${link.iface} (metered): only the lanes ${allowed} (and incident) go there, this file is ${lane}`;
  }
  if (bytes > leftBytes) {
    return `the route to S3 is over ${link.iface} (metered): ${formatMB(bytes)} do not fit the ${formatMB(Math.max(0, leftBytes))} left of today's budget`;
  }
  return undefined;
}

/** Options of {@link MeteredAdmission}. */
export interface MeteredAdmissionOptions {
  /** The link now (LinkWatch.current). */
  link: () => LinkState;
  /** Re-reads the link (LinkWatch.refresh), for the periodic check. */
  refresh: () => Promise<LinkState>;
  budget: BudgetStore;
  rule: () => MeteredRule;
  clock: Clock;
  logger: AgentLogger;
  /** Called when the verdict may have changed (route change, midnight): the pipeline's `pump()`. */
  wake: () => void;
  /** How often the route (and the day) is re-checked with no upload asking. @default 10000 */
  checkEveryMs?: number;
  /** A promise of bytes made by an upload that then shows no progress for this long is dropped. @default 300000 */
  staleAfterMs?: number;
}

/** An upload this admission let start: the bytes it still has to send, and whether they are promised. */
interface Started {
  bytes: number;
  /** Promised out of today's budget (admitted on a metered link). */
  promised: boolean;
  day: string;
  touchedAt: number;
}

/** What `tvm-upload status` shows of the link. */
export interface LinkReport {
  iface: string | null;
  class: LinkState['class'];
  address: string | null;
  budgetBytes: number;
  usedBytes: number;
  leftBytes: number;
  meteredLanes: Lane[];
}

/**
 * The metered-link admission: on an interface in `upload.networks.metered`, only the `metered_lanes` (and
 * `incident`) go, and only files whose remaining bytes fit what is left of today's budget (a file that does not fit
 * waits whole). An upload admitted on a metered link is promised its bytes, so that uploads running together cannot
 * overspend; the promise shrinks as bytes are acknowledged. On any other link everything goes. A timer re-reads the
 * route and the day every `checkEveryMs` and wakes the pipeline when either changed.
 */
export class MeteredAdmission implements Admission {
  readonly #o: MeteredAdmissionOptions;
  readonly #started = new Map<string, Started>();
  readonly #loop = new AbortController();
  #last: { iface: string | undefined; class: string; day: string } | undefined;

  constructor(options: MeteredAdmissionOptions) {
    this.#o = options;
  }

  mayStart(entry: QueueEntry, lane: Lane, size: number): { ok: true } | { ok: false; reason: string } {
    const link = this.#noticed(this.#o.link());
    this.#started.delete(entry.filepath);
    const reason = meteredVerdict({ link, lane, bytes: size, leftBytes: this.#left(), rule: this.#o.rule() });
    if (reason !== undefined) return { ok: false, reason };
    this.#started.set(entry.filepath, {
      bytes: size,
      promised: link.class === 'metered',
      day: this.#o.budget.today(),
      touchedAt: this.#o.clock.now(),
    });
    return { ok: true };
  }

  mayContinue(entry: QueueEntry, lane: Lane): string | undefined {
    const link = this.#noticed(this.#o.link());
    const own = this.#started.get(entry.filepath);
    if (link.class !== 'metered') {
      if (own) own.promised = false;
      return undefined;
    }
    // Not started through this admission (it cannot know what was sent): the whole file, the safe reading.
    const bytes = own?.bytes ?? entry.size ?? 0;
    const mine = own?.promised && own.day === this.#o.budget.today() ? own.bytes : 0;
    const reason = meteredVerdict({
      link,
      lane,
      bytes,
      leftBytes: this.#left() + mine,
      rule: this.#o.rule(),
    });
    if (reason === undefined) {
      this.#started.set(entry.filepath, {
        bytes,
        promised: true,
        day: this.#o.budget.today(),
        touchedAt: this.#o.clock.now(),
      });
    }
    return reason;
  }

  sent(entry: QueueEntry, _lane: Lane, bytes: number): void {
    const own = this.#started.get(entry.filepath);
    if (own) {
      own.bytes = Math.max(0, own.bytes - bytes);
      own.touchedAt = this.#o.clock.now();
      if (own.bytes === 0) this.#started.delete(entry.filepath);
    }
    // Counted when the link is metered now (the route is re-read at most once a second).
    if (this.#o.link().class === 'metered') this.#o.budget.add(bytes);
  }

  /** The link and the budget, for the status file. */
  report(): LinkReport {
    const link = this.#o.link();
    const rule = this.#o.rule();
    const used = this.#o.budget.usedToday();
    return {
      iface: link.iface ?? null,
      class: link.class,
      address: link.address ?? null,
      budgetBytes: rule.budgetBytes,
      usedBytes: used,
      leftBytes: Math.max(0, rule.budgetBytes - used),
      meteredLanes: [...rule.meteredLanes],
    };
  }

  /** Logs the link and starts the periodic re-check (route and day), which wakes the pipeline when either changed. */
  start(): void {
    this.#noticed(this.#o.link()); // the link at start, logged
    const every = this.#o.checkEveryMs ?? 10_000;
    const loop = async (): Promise<void> => {
      for (;;) {
        try {
          await this.#o.clock.sleep(every, this.#loop.signal);
        } catch {
          return;
        }
        try {
          const link = await this.#o.refresh();
          this.#noticed(link);
        } catch (error) {
          this.#o.logger.error(`Checking the route to S3 failed: ${(error as Error).message}`);
        }
      }
    };
    inBackground(loop(), this.#o.logger, 'The route check');
  }

  stop(): void {
    this.#loop.abort();
  }

  /** Bytes of today's budget neither used nor promised to uploads in flight. */
  #left(): number {
    const now = this.#o.clock.now();
    const today = this.#o.budget.today();
    const staleAfter = this.#o.staleAfterMs ?? 300_000;
    let promised = 0;
    for (const [path, upload] of this.#started) {
      if (upload.day !== today || now - upload.touchedAt > staleAfter) this.#started.delete(path);
      else if (upload.promised) promised += upload.bytes;
    }
    return this.#o.rule().budgetBytes - this.#o.budget.usedToday() - promised;
  }

  /** Logs a change of link or day and wakes the pipeline (its verdicts may differ now). */
  #noticed(link: LinkState): LinkState {
    const day = this.#o.budget.today();
    const last = this.#last;
    this.#last = { iface: link.iface, class: link.class, day };
    if (last && last.iface === link.iface && last.class === link.class && last.day === day) return link;
    if (!last || last.iface !== link.iface || last.class !== link.class) {
      this.#o.logger.info(
        `Route to S3: ${link.iface === undefined ? 'none' : `over ${link.iface} (${link.class})`}${link.address ? ` for ${link.address}` : ''}`,
      );
    } else {
      this.#o.logger.info(`Metered budget reset for ${day}`);
    }
    // Not from inside the pipeline's own pump: queued, so a check made while pumping never re-enters it.
    if (last) queueMicrotask(() => this.#o.wake());
    return link;
  }
}
