import type { Config } from '../config/index.ts';
import type { Keys, RedisClient } from '../redis/index.ts';
import type { DeadLetterQueue } from './dead-letter-queue.ts';
import { forgetEntries } from './final-states.ts';
import { removeExpiredJobs } from './finished-retention.ts';
import type { Logger } from './logger.ts';
import type { QueueSet } from './queues.ts';
import type { Settler } from './settler.ts';

const CLEAN_BATCH = 1000;

export interface RetentionDeps {
  config: Config;
  redis: RedisClient;
  keys: Keys;
  queues: QueueSet;
  dlq: DeadLetterQueue;
  settler: Settler;
  log: Logger;
}

/** What one retention pass removed or moved. */
export interface RetentionReport {
  settled: number;
  completed: number;
  deadLetters: number;
  cancelled: number;
}

/**
 * One retention pass over every queue, idle or not:
 * 1. failed jobs a crashed process left in BullMQ's failed set go to the DLQ;
 * 2. completed jobs past their retention are removed: their own (a
 *    schedule's `options.retention`), else `completedAgeMs`;
 * 3. DLQ entries older than `dlqAgeMs` and cancelled records older than
 *    `cancelledAgeMs` are removed.
 * Every step is idempotent, so two processes sweeping at once do no harm.
 */
export async function sweepRetention(deps: RetentionDeps, now = Date.now()): Promise<RetentionReport> {
  const { config, queues, redis, keys } = deps;
  const report: RetentionReport = { settled: 0, completed: 0, deadLetters: 0, cancelled: 0 };

  // 1. Leftovers of the failed set.
  report.settled = await deps.settler.sweep(queues.names);

  for (const name of queues.names) {
    // 2. Completed jobs, each past its own retention.
    report.completed += await removeExpiredJobs(queues.get(name), redis, 'completed', config.retention.completedAgeMs, now);

    // 3. Cancelled records.
    for (;;) {
      const ids = await redis.zrangebyscore(keys.cancelled(name), '-inf', `(${now - config.retention.cancelledAgeMs}`, 'LIMIT', 0, CLEAN_BATCH);
      if (!ids.length) break;
      report.cancelled += await forgetEntries(redis, keys, 'cancelled', name, ids.map((id) => ({ id, jobId: id })));
    }
  }

  // 3. DLQ entries.
  report.deadLetters = await deps.dlq.trim(now - config.retention.dlqAgeMs);
  return report;
}

/**
 * Runs retention every `sweepIntervalMs`. A lock in Redis lets one process
 * per interval do it; if that process dies, the lock expires with the interval.
 */
export function startRetention(deps: RetentionDeps): () => Promise<void> {
  const interval = deps.config.retention.sweepIntervalMs;
  let running: Promise<void> | undefined;

  const tick = () => {
    if (running) return;
    running = (async () => {
      const got = await deps.redis.set(deps.keys.retentionLock(), String(process.pid), 'PX', interval, 'NX');
      if (got !== 'OK') return;
      const report = await sweepRetention(deps);
      if (report.settled || report.completed || report.deadLetters || report.cancelled) {
        deps.log.info(report, 'retention pass');
      }
    })()
      .catch((err) => deps.log.warn({ err: { message: (err as Error).message } }, 'retention pass failed; next interval tries again'))
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(tick, interval);
  timer.unref();

  return async () => {
    clearInterval(timer);
    await running;
  };
}
