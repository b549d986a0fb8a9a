import { MINUTE } from '../../core/index.ts';
import type { Keys, RedisClient } from '../../redis/index.ts';
import type { JobEvents } from '../events.ts';
import type { Logger } from '../logger.ts';
import { addCell, cellFields, emptyCell, seriesId, type MetricCell } from './cells.ts';
import { bucketOf } from './histogram.ts';

export interface RecorderOptions {
  /** How often counts are added into Redis. */
  flushIntervalMs: number;
  /** How long a minute's hash is kept in Redis. */
  retentionMs: number;
}

/**
 * Counts what this process's workers do, per minute, queue and job type, in
 * memory, and adds the counts into Redis every `flushIntervalMs`: one
 * pipeline per flush, never a Redis call per job. A job's events only touch
 * memory, so a slow or absent Redis can neither slow nor break a job; a
 * failed flush keeps its counts and adds them into the next one.
 */
export class MetricsRecorder {
  private pending = new Map<number, Map<string, MetricCell>>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private failing = false;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly options: RecorderOptions,
    private readonly log: Logger,
  ) {}

  /** Starts counting the events of `events` and flushing on a timer. */
  start(events: JobEvents): void {
    this.unsubscribe.push(
      events.on('attempt.started', (e) => {
        const cell = this.cell(e.queue, e.type);
        cell.wait[bucketOf(e.waitMs)]++;
        cell.waitSumMs += e.waitMs;
      }),
      events.on('attempt.ended', (e) => {
        const cell = this.cell(e.queue, e.type);
        cell.run[bucketOf(e.durationMs)]++;
        cell.runSumMs += e.durationMs;
        if (e.outcome === 'completed') cell.completed++;
        else if (e.final) cell.failed++;
        else cell.retried++;
      }),
    );
    this.timer = setInterval(() => void this.flush(), this.options.flushIntervalMs);
    this.timer.unref();
  }

  /** Stops counting and flushes what is left (once; failures are logged). */
  async stop(): Promise<void> {
    for (const off of this.unsubscribe.splice(0)) off();
    clearInterval(this.timer);
    await this.flush();
  }

  /**
   * Adds the pending counts into Redis. Only one flush runs at a time; one
   * asked for meanwhile waits for it and then flushes what came since.
   */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.pending.size === 0) return;

    const batch = this.pending;
    this.pending = new Map();
    this.flushing = this.write(batch).finally(() => {
      this.flushing = undefined;
    });
    await this.flushing;
  }

  private cell(queue: string, type: string): MetricCell {
    const minute = Math.floor(Date.now() / MINUTE);
    let byMinute = this.pending.get(minute);
    if (!byMinute) this.pending.set(minute, (byMinute = new Map()));

    const id = seriesId(queue, type);
    let cell = byMinute.get(id);
    if (!cell) byMinute.set(id, (cell = emptyCell()));
    return cell;
  }

  /*
   * One pipeline (not a transaction): for each minute, HINCRBY of every
   * non-zero counter into the minute's hash and into the totals hash, then
   * PEXPIRE of the minute's hash. All keys share the `{metrics}` hash tag.
   * If the process dies half way, the counts of that flush are partly added:
   * metrics may under-count, jobs are never affected.
   */
  private async write(batch: Map<number, Map<string, MetricCell>>): Promise<void> {
    const pipeline = this.redis.pipeline();
    for (const [minute, cells] of batch) {
      const key = this.keys.metricsMinute(minute);
      for (const [series, cell] of cells) {
        for (const [field, value] of cellFields(series, cell)) {
          pipeline.hincrby(key, field, value);
          pipeline.hincrby(this.keys.metricsTotals(), field, value);
        }
      }
      pipeline.pexpire(key, this.options.retentionMs);
    }

    try {
      const replies = await pipeline.exec();
      const failed = replies?.find(([err]) => err);
      if (failed) throw failed[0];
      if (this.failing) this.log.info('metrics flush recovered');
      this.failing = false;
    } catch (err) {
      // Nothing was confirmed: keep the counts for the next flush. A partial
      // success counts twice then, which is better than losing a minute.
      this.restore(batch);
      if (!this.failing) this.log.warn({ err: { message: (err as Error).message } }, 'metrics flush failed; will retry');
      this.failing = true;
    }
  }

  private restore(batch: Map<number, Map<string, MetricCell>>): void {
    const oldest = Math.floor((Date.now() - this.options.retentionMs) / MINUTE);
    for (const [minute, cells] of batch) {
      if (minute < oldest) continue;
      for (const [series, cell] of cells) {
        let byMinute = this.pending.get(minute);
        if (!byMinute) this.pending.set(minute, (byMinute = new Map()));
        const into = byMinute.get(series);
        if (!into) byMinute.set(series, cell);
        else addCell(into, cell);
      }
    }
  }
}
