import type { Keys, RedisClient } from '../../redis/index.ts';
import type { QueueSet } from '../queues.ts';
import { UnavailableError } from '../errors.ts';
import { LISTED_SCORE, readyHeldRange } from '../fair/hold.ts';

/** How many jobs of a queue are in each state right now. */
export interface QueueDepth {
  /** Ready to run (BullMQ's wait and prioritized lists). */
  waiting: number;
  delayed: number;
  active: number;
  completed: number;
  /**
   * In BullMQ's failed set only: jobs that failed for good but are not yet
   * in the DLQ (normally 0; the retention sweep moves those a crashed process
   * left). Never counted again in `dlq`, so the states add up.
   */
  failed: number;
  /** Entries in the DLQ: where jobs that failed for good end up. */
  dlq: number;
  /** Records of cancelled jobs still kept. */
  cancelled: number;
}

/**
 * Counts the jobs of each queue by state. BullMQ keeps one list or sorted set
 * per state, so this is a few O(1) length reads per queue, however many jobs
 * there are.
 */
export async function queueDepths(
  queues: QueueSet,
  names: readonly string[],
  redis: RedisClient,
  keys: Keys,
): Promise<Record<string, QueueDepth>> {
  try {
    const [counts, ended] = await Promise.all([
      Promise.all(
        names.map((name) =>
          queues.get(name).getJobCounts('wait', 'prioritized', 'waiting-children', 'delayed', 'active', 'completed', 'failed'),
        ),
      ),
      Promise.all(names.map((name) => Promise.all([redis.zcard(keys.dlq(name)), redis.zcard(keys.cancelled(name))]))),
    ]);
    // A fair queue's jobs wait in BullMQ's delayed set: those ready count as waiting.
    const held = await Promise.all(names.map((name) => readyHeld(redis, keys, name)));
    return Object.fromEntries(
      names.map((name, i) => {
        const c = counts[i];
        const depth: QueueDepth = {
          waiting: (c.wait ?? 0) + (c.prioritized ?? 0) + (c['waiting-children'] ?? 0) + held[i],
          delayed: (c.delayed ?? 0) - held[i],
          active: c.active ?? 0,
          completed: c.completed ?? 0,
          failed: c.failed ?? 0,
          dlq: ended[i][0],
          cancelled: ended[i][1],
        };
        return [name, depth];
      }),
    );
  } catch (err) {
    throw new UnavailableError(`Redis cannot count jobs: ${(err as Error).message}`, { cause: err });
  }
}

/** Jobs held in a queue's delayed set whose ready time passed, listed or not. */
export async function readyHeld(redis: RedisClient, keys: Keys, queue: string): Promise<number> {
  const [min, max] = readyHeldRange();
  const key = keys.bullKey(queue, 'delayed');
  const [ready, listed] = await Promise.all([redis.zcount(key, min, max), redis.zcount(key, LISTED_SCORE, '+inf')]);
  return ready + listed;
}
