import { basename } from 'node:path';
import type { QueueEntry } from '@tvm/durable-queue';
import { compileGlob } from '@tvm/disk-guard';

/**
 * The priority lanes of the upload queue, highest first. `incident` is set only by `tvm-upload upload` (a queue
 * entry's persisted `priority`); the others come from the config (`log_directories[].priority`,
 * `upload.priority_rules`).
 */
export type Lane = 'incident' | 'high' | 'normal' | 'low';

/** Every lane, highest first. */
export const LANES: readonly Lane[] = ['incident', 'high', 'normal', 'low'];

/** The lanes a config may name (`incident` is the CLI's alone). */
export type Priority = 'high' | 'normal' | 'low';
export const PRIORITIES: readonly Priority[] = ['high', 'normal', 'low'];

/** One `upload.priority_rules` item: a glob on the basename and the lane of the files it matches. */
export interface PriorityRule {
  pattern: string;
  priority: Priority;
}

/** What {@link laneOf} decides by: the rules and each directory's priority (by `source`). */
export interface LaneConfig {
  priority_rules: readonly PriorityRule[];
  log_directories: readonly { source: string; priority: Priority }[];
}

/** 0 for the highest lane; a higher number is a lower lane. */
export function laneRank(lane: Lane): number {
  return LANES.indexOf(lane);
}

/** True when `a` goes before `b`. */
export function above(a: Lane, b: Lane): boolean {
  return laneRank(a) < laneRank(b);
}

function isLane(value: unknown): value is Lane {
  return typeof value === 'string' && (LANES as readonly string[]).includes(value);
}

const compiled = new WeakMap<readonly PriorityRule[], Array<(name: string) => boolean>>();

/**
 * The lane of a queued file: the entry's persisted `priority` when it carries one (an incident upload), else the
 * first `upload.priority_rules` pattern that matches the basename, else its directory's `priority` (by the entry's
 * `source`, or `directorySource()` for a legacy entry without one), else `normal`.
 */
export function laneOf(
  entry: Pick<QueueEntry, 'filepath' | 'source'> & { priority?: unknown },
  config: LaneConfig,
  /** The directory of an entry without a `source` (a legacy entry), asked only when needed. */
  directorySource?: () => string | undefined,
): Lane {
  if (isLane(entry.priority)) return entry.priority;
  const rules = config.priority_rules;
  let matchers = compiled.get(rules);
  if (!matchers) {
    matchers = rules.map((rule) => compileGlob(rule.pattern));
    compiled.set(rules, matchers);
  }
  const name = basename(entry.filepath);
  const index = matchers.findIndex((matches) => matches(name));
  if (index >= 0) return (rules[index] as PriorityRule).priority;
  const source = entry.source ?? directorySource?.();
  return config.log_directories.find((dir) => dir.source === source)?.priority ?? 'normal';
}

/** `items` with higher lanes first, keeping their order inside a lane (a stable sort). */
export function byLane<T>(items: readonly T[], lane: (item: T) => Lane): T[] {
  return items
    .map((item, index) => ({ item, index, rank: laneRank(lane(item)) }))
    .sort((a, b) => a.rank - b.rank || a.index - b.index)
    .map(({ item }) => item);
}

/** An upload in flight, as the preemption decision sees it. */
export interface RunningUpload {
  filepath: string;
  lane: Lane;
  /** The file's size in bytes (what resuming it costs: the uploader hashes the file again). */
  size: number;
  /** A multipart upload (only those can pause between parts; a single PUT is one part anyway). */
  multipart: boolean;
  /** Already asked to pause (its slot is handed over). */
  pausing: boolean;
  /** When it started (epoch ms). */
  startedAt: number;
}

/**
 * Which upload in flight pauses after its current part so that a file of `waiting`'s lane can take its slot, or
 * undefined when none should: only a multipart upload of a lower lane pauses, the lowest lane first, and within it
 * the smallest file (the cheapest to resume), then the latest started. Called only when every slot is busy.
 */
export function choosePreemption(running: readonly RunningUpload[], waiting: Lane): string | undefined {
  let best: RunningUpload | undefined;
  for (const upload of running) {
    if (upload.pausing || !upload.multipart || !above(waiting, upload.lane)) continue;
    if (
      !best ||
      laneRank(upload.lane) > laneRank(best.lane) ||
      (upload.lane === best.lane &&
        (upload.size < best.size || (upload.size === best.size && upload.startedAt > best.startedAt)))
    ) {
      best = upload;
    }
  }
  return best?.filepath;
}
