import type { ScheduleSpec } from '../../core/index.ts';
import type { SlotWindow } from './slots.ts';

export interface DecideInput {
  spec: Pick<ScheduleSpec, 'missedRuns' | 'overlap'>;
  /** The slots since the last tick; `latest` holds at least `missedRuns.limit + 1`. */
  slots: SlotWindow;
  now: number;
  graceMs: number;
  /** The schedule's previous job has not finished. */
  busy: boolean;
  queuedSlot?: number;
}

export interface Decision {
  /** Slots to run now, oldest first. */
  runs: number[];
  /** Slot kept to run once the previous job finishes. */
  queuedSlot?: number;
  /** Slots dropped: missed ones the policy skips, and ones that came while busy. */
  skipped: number;
  /** Slots older than the grace period: they passed while nothing was ticking. */
  missed: number;
}

/**
 * Which slots of one tick run. The latest slot younger than `graceMs` is due;
 * every other one was missed and the missed-run policy decides:
 * `skip` none, `once` the latest of them, `all` the latest `limit`. Then the
 * overlap policy: while the previous job runs, `skip` drops the runs and
 * `queue` keeps the latest as the one to run when it ends.
 */
export function decideRuns(input: DecideInput): Decision {
  const { spec, slots, now, graceMs } = input;

  // 1. Due and missed.
  const latest = slots.latest.at(-1);
  const due = latest !== undefined && latest >= now - graceMs ? latest : undefined;
  const missedSlots = due === undefined ? slots.latest : slots.latest.slice(0, -1);
  const missed = slots.count - (due === undefined ? 0 : 1);

  // 2. The missed-run policy.
  let runs: number[] = [];
  if (missed > 0 && spec.missedRuns.policy === 'once') runs = missedSlots.slice(-1);
  if (missed > 0 && spec.missedRuns.policy === 'all') runs = missedSlots.slice(-spec.missedRuns.limit);
  if (due !== undefined) runs.push(due);
  let skipped = slots.count - runs.length;

  // 3. The overlap policy.
  if (input.busy) {
    if (spec.overlap === 'skip') return { runs: [], skipped: skipped + runs.length, missed };
    const queuedSlot = runs.at(-1) ?? input.queuedSlot;
    const replaced = runs.length + (input.queuedSlot !== undefined && queuedSlot !== input.queuedSlot ? 1 : 0) - 1;
    return { runs: [], queuedSlot, skipped: skipped + Math.max(0, replaced), missed };
  }
  if (input.queuedSlot !== undefined) {
    if (runs.length) skipped++;
    else runs = [input.queuedSlot];
  }
  return { runs, skipped, missed };
}
