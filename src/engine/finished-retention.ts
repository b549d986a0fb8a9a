import type { Queue } from 'bullmq';
import type { RetentionOptions } from '../core/index.ts';
import type { RedisClient } from '../redis/index.ts';

/**
 * The job hash field holding a job's own retention (JSON `RetentionOptions`),
 * set when it differs from the configuration: a schedule's `options.retention`.
 */
export const RETENTION_FIELD = 'tm_retention';

/** Finished jobs looked at per round trip. */
const BATCH = 1000;

/** Notes a job's own retention on its hash, for the sweeps to honour. */
export async function noteRetention(redis: RedisClient, jobKey: string, retention: RetentionOptions): Promise<void> {
  await redis.hset(jobKey, RETENTION_FIELD, JSON.stringify(retention));
}

/**
 * Removes the finished jobs of one BullMQ set (`completed`, or `failed`)
 * that are past their retention: a job's own (`RETENTION_FIELD`), longer or
 * shorter, else `defaultAgeMs`. BullMQ's own `clean` cannot do this: it
 * applies one age to the whole set.
 *
 * Walks the set oldest first, `BATCH` jobs a round trip; a job removed
 * meanwhile by another process is simply not counted. Returns how many went.
 */
export async function removeExpiredJobs(
  queue: Queue,
  redis: RedisClient,
  state: 'completed' | 'failed',
  defaultAgeMs: number,
  now = Date.now(),
): Promise<number> {
  const set = queue.keys[state];
  const field = state === 'completed' ? 'completedAgeMs' : 'failedAgeMs';
  let removed = 0;

  for (let start = 0; ; ) {
    // 1. The next batch, by finish time.
    const page = await redis.zrange(set, start, start + BATCH - 1, 'WITHSCORES');
    if (!page.length) break;
    const ids = page.filter((_, i) => i % 2 === 0);
    const finishedAt = page.filter((_, i) => i % 2 === 1).map(Number);

    // 2. Each one's own retention, where it has one.
    const pipeline = redis.pipeline();
    for (const id of ids) pipeline.hget(queue.toKey(id), RETENTION_FIELD);
    const own = ((await pipeline.exec()) ?? []).map(([, raw]) => parseAge(raw, field));

    // 3. Remove those past it; the rest keep their places in the set.
    let gone = 0;
    for (let i = 0; i < ids.length; i++) {
      if (finishedAt[i] > now - (own[i] ?? defaultAgeMs)) continue;
      gone += await queue.remove(ids[i]);
    }
    removed += gone;
    start += ids.length - gone;
    if (ids.length < BATCH) break;
  }
  return removed;
}

function parseAge(raw: unknown, field: 'completedAgeMs' | 'failedAgeMs'): number | undefined {
  if (typeof raw !== 'string') return undefined;
  try {
    const age = (JSON.parse(raw) as RetentionOptions)[field];
    return typeof age === 'number' ? age : undefined;
  } catch {
    // A field that does not read back: the configured retention applies.
    return undefined;
  }
}
