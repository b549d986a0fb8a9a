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
  /** Slots decided earlier that wait their turn, oldest first. */
  backlog?: number[];
}

export interface Decision {
  /** The slot to run now (none or one). */
  runs: number[];
  /** Slots that run later, one after another, oldest first. */
  backlog: number[];
  /** Slot kept to run once the previous job finishes. */
  queuedSlot?: number;
  /** Slots dropped: missed ones the policy skips, and ones that came while busy. */
  skipped: number;
  /** Slots older than the grace period: they passed while nothing was ticking. */
  missed: number;
}

/**
 * Which slot of one tick runs. The latest slot younger than `graceMs` is due;
 * every other one was missed and the missed-run policy decides which are made
 * up for: `skip` none, `once` the latest of them, `all` the latest `limit`.
 *
 * A schedule runs one job at a time, in slot order: made-up slots join a
 * backlog, and each tick that finds the previous job finished starts the
 * oldest waiting slot. The overlap policy is for the due slot: while the
 * previous job runs, `skip` drops it and `queue` keeps it (a later one
 * replaces it) to run after the backlog.
 */
export function decideRuns(input: DecideInput): Decision {
  const { spec, slots, now, graceMs } = input;

  // 1. Due and missed.
  const latest = slots.latest.at(-1);
  const due = latest !== undefined && latest >= now - graceMs ? latest : undefined;
  const missedSlots = due === undefined ? slots.latest : slots.latest.slice(0, -1);
  const missed = slots.count - (due === undefined ? 0 : 1);

  // 2. The missed-run policy: which missed slots are made up for.
  let madeUp: number[] = [];
  if (missed > 0 && spec.missedRuns.policy === 'once') madeUp = missedSlots.slice(-1);
  if (missed > 0 && spec.missedRuns.policy === 'all') madeUp = missedSlots.slice(-spec.missedRuns.limit);
  let skipped = missed - madeUp.length;

  // 3. The overlap policy for the due slot; a finished previous job frees the queued one.
  let backlog = [...(input.backlog ?? []), ...madeUp];
  let queuedSlot = input.queuedSlot;
  if (input.busy && due !== undefined) {
    if (spec.overlap === 'skip' || queuedSlot !== undefined) skipped++;
    if (spec.overlap === 'queue') queuedSlot = Math.max(due, queuedSlot ?? due);
  } else if (!input.busy) {
    if (queuedSlot !== undefined) backlog.push(queuedSlot);
    if (due !== undefined) backlog.push(due);
    queuedSlot = undefined;
  }

  // 4. In slot order, each once, and no longer than a full catch-up.
  backlog = [...new Set(backlog)].sort((a, b) => a - b);
  const cap = spec.missedRuns.limit + 1;
  if (backlog.length > cap) {
    skipped += backlog.length - cap;
    backlog = backlog.slice(-cap);
  }

  // 5. The oldest waiting slot runs once the previous job has finished.
  if (input.busy || !backlog.length) return { runs: [], backlog, queuedSlot, skipped, missed };
  const [next, ...rest] = backlog;
  return { runs: [next], backlog: rest, queuedSlot, skipped, missed };
}
