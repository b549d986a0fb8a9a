import { MINUTE, SECOND } from '../../core/index.ts';
import type { Keys, RedisClient } from '../../redis/index.ts';
import { UnavailableError } from '../errors.ts';
import { addCell, emptyCell, parseCells, splitSeriesId, type MetricCell } from './cells.ts';

/** One minute of one queue: the sum over its job types, and each type's cell. */
export interface QueueMinute {
  total: MetricCell;
  types: Map<string, MetricCell>;
}

/** One minute of metrics, by queue. */
export type MinuteCells = Map<string, QueueMinute>;

/** A minute is final once every process has flushed it: this long after it ends. */
const SETTLE_MS = MINUTE + 15 * SECOND;

/**
 * Reads the per-minute metrics hashes, grouped by queue and job type once
 * when read. Minutes that can no longer change are kept in memory in that
 * shape, so a 24-hour chart costs one Redis round trip for the few recent
 * minutes after the first read, and folding it touches each type's cell once.
 */
export class MetricsStore {
  private readonly settled = new Map<number, MinuteCells>();

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly retentionMs: number,
  ) {}

  /** The cells of each minute from `fromMinute` to `toMinute`, both included. */
  async minutes(fromMinute: number, toMinute: number): Promise<Map<number, MinuteCells>> {
    const out = new Map<number, MinuteCells>();
    const missing: number[] = [];
    for (let m = fromMinute; m <= toMinute; m++) {
      const cached = this.settled.get(m);
      if (cached) out.set(m, cached);
      else missing.push(m);
    }

    if (missing.length) {
      const pipeline = this.redis.pipeline();
      for (const m of missing) pipeline.hgetall(this.keys.metricsMinute(m));
      const replies = await reading(pipeline.exec());
      const settledBefore = Math.floor((Date.now() - SETTLE_MS) / MINUTE);
      missing.forEach((m, i) => {
        const [err, hash] = replies?.[i] ?? [new Error('no reply')];
        if (err) throw new UnavailableError(`Redis cannot read metrics: ${err.message}`, { cause: err });
        const cells = byQueue(parseCells(hash as Record<string, string>));
        out.set(m, cells);
        if (m < settledBefore) this.settled.set(m, cells);
      });
      this.forgetOld();
    }
    return out;
  }

  /** Counts since the metrics were first written, by series. */
  async totals(): Promise<Map<string, MetricCell>> {
    const hash = await reading(this.redis.hgetall(this.keys.metricsTotals()));
    return parseCells(hash);
  }

  private forgetOld(): void {
    const oldest = Math.floor((Date.now() - this.retentionMs) / MINUTE);
    for (const m of this.settled.keys()) if (m < oldest) this.settled.delete(m);
  }
}

function byQueue(cells: Map<string, MetricCell>): MinuteCells {
  const out: MinuteCells = new Map();
  for (const [id, cell] of cells) {
    const { queue, type } = splitSeriesId(id);
    let minute = out.get(queue);
    if (!minute) out.set(queue, (minute = { total: emptyCell(), types: new Map() }));
    minute.types.set(type, cell);
    addCell(minute.total, cell);
  }
  return out;
}

async function reading<T>(operation: Promise<T>): Promise<T> {
  try {
    return await operation;
  } catch (err) {
    throw new UnavailableError(`Redis cannot read metrics: ${(err as Error).message}`, { cause: err });
  }
}
