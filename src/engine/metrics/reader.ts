import { MINUTE, SECOND } from '../../core/index.ts';
import type { Keys, RedisClient } from '../../redis/index.ts';
import { UnavailableError } from '../errors.ts';
import { parseCells, type MetricCell } from './cells.ts';

/** A minute is final once every process has flushed it: this long after it ends. */
const SETTLE_MS = MINUTE + 15 * SECOND;

/**
 * Reads the per-minute metrics hashes. Minutes that can no longer change are
 * kept in memory, so a 24-hour chart costs one Redis round trip for the few
 * recent minutes after the first read.
 */
export class MetricsStore {
  private readonly settled = new Map<number, Map<string, MetricCell>>();

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly retentionMs: number,
  ) {}

  /** The cells of each minute from `fromMinute` to `toMinute`, both included. */
  async minutes(fromMinute: number, toMinute: number): Promise<Map<number, Map<string, MetricCell>>> {
    const out = new Map<number, Map<string, MetricCell>>();
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
        const cells = parseCells(hash as Record<string, string>);
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

async function reading<T>(operation: Promise<T>): Promise<T> {
  try {
    return await operation;
  } catch (err) {
    throw new UnavailableError(`Redis cannot read metrics: ${(err as Error).message}`, { cause: err });
  }
}
