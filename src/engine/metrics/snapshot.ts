import { HOUR, MINUTE } from '../../core/index.ts';
import { addCell, emptyCell, type MetricCell } from './cells.ts';
import { quantile } from './histogram.ts';
import type { MetricsStore } from './reader.ts';

/** Percentiles of a duration, in ms; null when nothing was measured. */
export interface Percentiles {
  p50: number | null;
  p95: number | null;
  p99: number | null;
  avg: number | null;
}

/** What happened over a span of time for one queue or job type. */
export interface WindowSummary {
  completed: number;
  failed: number;
  retried: number;
  /** failed / (completed + failed); null when neither happened. */
  failureRate: number | null;
  /** Completed plus failed, per minute, over the span. */
  perMinute: number;
  waitMs: Percentiles;
  runMs: Percentiles;
}

/** A chart's points: one per step, oldest first. */
export interface Series {
  /** Start of each step, ms since the epoch. */
  t: number[];
  completed: number[];
  failed: number[];
  waitP95: (number | null)[];
  runP95: (number | null)[];
}

export interface ThroughputSummary {
  queue: string;
  window: WindowSummary;
  /** The minute before the current one: a steady "rate now". */
  lastMinute: WindowSummary;
  types: ({ type: string } & WindowSummary)[];
  series: Series;
}

export interface SnapshotQuery {
  rangeMs: number;
  stepMs: number;
  queues: readonly string[];
  type?: string;
  now?: number;
}

/** Chooses a chart step: a minute for an hour, else about 144 points. */
export function defaultStepMs(rangeMs: number): number {
  if (rangeMs <= HOUR) return MINUTE;
  return Math.max(MINUTE, Math.ceil(rangeMs / 144 / MINUTE) * MINUTE);
}

/**
 * Folds the per-minute cells of the range into per-queue summaries, per-type
 * summaries and chart series.
 */
export async function throughput(store: MetricsStore, query: SnapshotQuery): Promise<ThroughputSummary[]> {
  const now = query.now ?? Date.now();
  const toMinute = Math.floor(now / MINUTE);
  const minutesInRange = Math.max(1, Math.round(query.rangeMs / MINUTE));
  const fromMinute = toMinute - minutesInRange + 1;
  const stepMinutes = Math.max(1, Math.round(query.stepMs / MINUTE));
  const byMinute = await store.minutes(fromMinute, toMinute);

  return query.queues.map((queue) => {
    const types = new Map<string, MetricCell>();
    const steps = new Map<number, MetricCell>();
    let last = emptyCell();

    // Each minute adds once into its chart step (the queue's total, or the
    // one type asked for) and once per type into the per-type sums.
    for (const [minute, byQueue] of byMinute) {
      const cells = byQueue.get(queue);
      if (!cells) continue;
      const cell = query.type ? cells.types.get(query.type) : cells.total;
      if (!cell) continue;

      if (minute === toMinute - 1) last = cell;
      const step = fromMinute + Math.floor((minute - fromMinute) / stepMinutes) * stepMinutes;
      let stepCell = steps.get(step);
      if (!stepCell) steps.set(step, (stepCell = emptyCell()));
      addCell(stepCell, cell);
      for (const [type, typeCell] of cells.types) {
        if (query.type && type !== query.type) continue;
        let sum = types.get(type);
        if (!sum) types.set(type, (sum = emptyCell()));
        addCell(sum, typeCell);
      }
    }

    // The whole range is the sum of its steps.
    const whole = emptyCell();
    for (const stepCell of steps.values()) addCell(whole, stepCell);

    return {
      queue,
      window: summarize(whole, minutesInRange),
      lastMinute: summarize(last, 1),
      types: [...types].sort(([a], [b]) => a.localeCompare(b)).map(([type, cell]) => ({ type, ...summarize(cell, minutesInRange) })),
      series: chart(steps, fromMinute, toMinute, stepMinutes),
    };
  });
}

/** The summary of one cell spread over `minutes`. */
export function summarize(cell: MetricCell, minutes: number): WindowSummary {
  const done = cell.completed + cell.failed;
  return {
    completed: cell.completed,
    failed: cell.failed,
    retried: cell.retried,
    failureRate: done ? cell.failed / done : null,
    perMinute: done / Math.max(1, minutes),
    waitMs: percentiles(cell.wait, cell.waitSumMs),
    runMs: percentiles(cell.run, cell.runSumMs),
  };
}

function percentiles(buckets: number[], sumMs: number): Percentiles {
  const count = buckets.reduce((a, b) => a + b, 0);
  const round = (v: number | undefined) => (v === undefined ? null : Math.round(v * 10) / 10);
  return {
    p50: round(quantile(buckets, 0.5)),
    p95: round(quantile(buckets, 0.95)),
    p99: round(quantile(buckets, 0.99)),
    avg: count ? round(sumMs / count) : null,
  };
}

function chart(steps: Map<number, MetricCell>, fromMinute: number, toMinute: number, stepMinutes: number): Series {
  const series: Series = { t: [], completed: [], failed: [], waitP95: [], runP95: [] };
  for (let step = fromMinute; step <= toMinute; step += stepMinutes) {
    const cell = steps.get(step) ?? emptyCell();
    series.t.push(step * MINUTE);
    series.completed.push(cell.completed);
    series.failed.push(cell.failed);
    series.waitP95.push(quantile(cell.wait, 0.95) ?? null);
    series.runP95.push(quantile(cell.run, 0.95) ?? null);
  }
  return series;
}
