import { addInto, emptyBuckets } from './histogram.ts';

/**
 * What is counted for one queue and job type over some time: the unit both
 * the in-memory recorder and the Redis reader work in.
 */
export interface MetricCell {
  /** Jobs that completed. */
  completed: number;
  /** Jobs that failed for good (no retry follows). */
  failed: number;
  /** Attempts that failed and were retried. */
  retried: number;
  /** Time in queue (ready to started) per started attempt, bucketed. */
  wait: number[];
  waitSumMs: number;
  /** Run time per ended attempt, bucketed. */
  run: number[];
  runSumMs: number;
}

export function emptyCell(): MetricCell {
  return { completed: 0, failed: 0, retried: 0, wait: emptyBuckets(), waitSumMs: 0, run: emptyBuckets(), runSumMs: 0 };
}

export function addCell(into: MetricCell, from: MetricCell): void {
  into.completed += from.completed;
  into.failed += from.failed;
  into.retried += from.retried;
  into.waitSumMs += from.waitSumMs;
  into.runSumMs += from.runSumMs;
  addInto(into.wait, from.wait);
  addInto(into.run, from.run);
}

/**
 * Hash field names: `<queue>|<type>|<counter>`. Queue names cannot hold `|`
 * (QUEUE_NAME) and the counter is last, so a type holding `|` still parses.
 */
const SEP = '|';

export function seriesId(queue: string, type: string): string {
  return `${queue}${SEP}${type}`;
}

export function splitSeriesId(id: string): { queue: string; type: string } {
  const at = id.indexOf(SEP);
  return { queue: id.slice(0, at), type: id.slice(at + 1) };
}

/** The non-zero fields of a cell, as HINCRBY increments. */
export function cellFields(series: string, cell: MetricCell): [string, number][] {
  const out: [string, number][] = [];
  const put = (name: string, value: number) => {
    if (value !== 0) out.push([`${series}${SEP}${name}`, Math.round(value)]);
  };
  put('c', cell.completed);
  put('f', cell.failed);
  put('r', cell.retried);
  put('ws', cell.waitSumMs);
  put('rs', cell.runSumMs);
  cell.wait.forEach((n, i) => put(`w${i}`, n));
  cell.run.forEach((n, i) => put(`d${i}`, n));
  return out;
}

/** Turns a metrics hash (as HGETALL returns it) back into cells by series. */
export function parseCells(hash: Record<string, string>): Map<string, MetricCell> {
  const cells = new Map<string, MetricCell>();
  for (const [field, raw] of Object.entries(hash)) {
    const at = field.lastIndexOf(SEP);
    if (at <= 0) continue;
    const series = field.slice(0, at);
    const name = field.slice(at + 1);
    const value = Number(raw);
    if (!Number.isFinite(value)) continue;

    let cell = cells.get(series);
    if (!cell) cells.set(series, (cell = emptyCell()));
    applyField(cell, name, value);
  }
  return cells;
}

function applyField(cell: MetricCell, name: string, value: number): void {
  if (name === 'c') cell.completed += value;
  else if (name === 'f') cell.failed += value;
  else if (name === 'r') cell.retried += value;
  else if (name === 'ws') cell.waitSumMs += value;
  else if (name === 'rs') cell.runSumMs += value;
  else if (name[0] === 'w' || name[0] === 'd') {
    const index = Number(name.slice(1));
    const buckets = name[0] === 'w' ? cell.wait : cell.run;
    if (Number.isInteger(index) && index >= 0 && index < buckets.length) buckets[index] += value;
  }
}
