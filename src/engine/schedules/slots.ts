import { Cron } from 'croner';
import type { ScheduleSpec } from '../../core/index.ts';

/** Most slots looked at in one pass; a longer outage is cut to its latest slots. */
const MAX_SLOTS_SCANNED = 100_000;

/** The slots of a schedule in a time window, as a tick needs them. */
export interface SlotWindow {
  /** How many slots fall in the window (up to the scan limit). */
  count: number;
  /** The latest `keep` slots, oldest first (ms since the epoch). */
  latest: number[];
}

/**
 * The times a schedule fires. A cron pattern is read in the schedule's time
 * zone by croner, which decides the daylight-saving cases: a wall-clock time
 * that happens twice (fall-back) fires once, at its first occurrence; one that
 * does not exist (spring-forward) fires at the instant the clocks jump. A
 * fixed interval counts from the schedule's anchor, so every process agrees
 * on its slots.
 */
export class SlotCalculator {
  private readonly cron?: Cron;

  constructor(
    private readonly spec: Pick<ScheduleSpec, 'cron' | 'everyMs' | 'timezone'>,
    private readonly anchorMs: number,
  ) {
    if (spec.cron) this.cron = new Cron(spec.cron, { timezone: spec.timezone, paused: true, mode: '5-or-6-parts' });
  }

  /** The first slot strictly after `afterMs`. */
  next(afterMs: number): number | undefined {
    if (this.cron) return this.cron.nextRun(new Date(afterMs))?.getTime();

    const every = this.spec.everyMs!;
    if (afterMs < this.anchorMs) return this.anchorMs;
    return this.anchorMs + (Math.floor((afterMs - this.anchorMs) / every) + 1) * every;
  }

  /** The slots in `(afterMs, untilMs]`: their count and the latest `keep` of them. */
  window(afterMs: number, untilMs: number, keep: number): SlotWindow {
    if (!this.cron) return this.intervalWindow(afterMs, untilMs, keep);

    const latest: number[] = [];
    let count = 0;
    for (let slot = this.next(afterMs); slot !== undefined && slot <= untilMs; slot = this.next(slot)) {
      count++;
      latest.push(slot);
      if (latest.length > keep) latest.shift();
      if (count >= MAX_SLOTS_SCANNED) break;
    }
    return { count, latest };
  }

  private intervalWindow(afterMs: number, untilMs: number, keep: number): SlotWindow {
    const every = this.spec.everyMs!;
    const first = this.next(afterMs)!;
    if (first > untilMs) return { count: 0, latest: [] };

    const count = Math.floor((untilMs - first) / every) + 1;
    const last = first + (count - 1) * every;
    const kept = Math.min(keep, count);
    const latest = Array.from({ length: kept }, (_, i) => last - (kept - 1 - i) * every);
    return { count, latest };
  }
}

/** Checks a cron pattern; returns the parser's complaint, or undefined when it is valid. */
export function cronProblem(pattern: string, timezone: string): string | undefined {
  try {
    new Cron(pattern, { timezone, paused: true, mode: '5-or-6-parts' });
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
