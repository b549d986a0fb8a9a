import { bullPriority, type Priority } from '../../core/index.ts';
import type { Keys, RedisClient } from '../../redis/index.ts';

/** The states a job list can be asked for. */
export const LISTABLE_STATES = ['waiting', 'delayed', 'active', 'completed', 'failed'] as const;
export type ListableState = (typeof LISTABLE_STATES)[number];

/** One page of ids read from a state's list or sorted set, by rank. */
export interface IdPage {
  ids: string[];
  /** Rank after the last id read; undefined when the source is exhausted. */
  next?: number;
}

/** BullMQ gives every prioritised job the score `priority * 2^32 + counter`. */
const PRIORITY_SPAN = 0x100000000;

/**
 * Reads job ids of one state of one queue, `count` at a time from rank
 * `from`. Every read is by rank (LRANGE, ZRANGE), which Redis answers
 * without walking the jobs before it, so page 20 000 costs what page 1 does.
 * Waiting jobs come in the order they will run: BullMQ's plain wait list
 * first, then the prioritised set; finished jobs come newest first.
 */
export async function readIds(
  redis: RedisClient,
  keys: Keys,
  queue: string,
  state: ListableState,
  from: number,
  count: number,
  priority?: Priority,
): Promise<IdPage> {
  const key = (name: string) => `${keys.prefix}:${keys.bullQueue(queue)}:${name}`;

  switch (state) {
    case 'waiting':
      return priority ? prioritized(redis, key('prioritized'), from, count, priority) : waiting(redis, key, from, count);
    case 'active':
      return fromList(redis, key('active'), from, count);
    case 'delayed':
      return fromSortedSet(redis, key('delayed'), from, count, false);
    case 'completed':
      return fromSortedSet(redis, key('completed'), from, count, true);
    case 'failed':
      return fromSortedSet(redis, key('failed'), from, count, true);
  }
}

async function waiting(redis: RedisClient, key: (name: string) => string, from: number, count: number): Promise<IdPage> {
  const listLength = await redis.llen(key('wait'));
  if (from < listLength) {
    // BullMQ takes from the right end of the wait list: read it from there.
    const start = -1 - from;
    const stop = Math.max(-listLength, start - count + 1);
    const ids = (await redis.lrange(key('wait'), stop, start)).reverse();
    return { ids, next: from + ids.length };
  }
  const page = await fromSortedSet(redis, key('prioritized'), from - listLength, count, false);
  return { ids: page.ids, next: page.next === undefined ? undefined : page.next + listLength };
}

/** Waiting jobs of one priority class: the class is a score range of the set. */
async function prioritized(redis: RedisClient, key: string, from: number, count: number, priority: Priority): Promise<IdPage> {
  const min = bullPriority(priority) * PRIORITY_SPAN;
  const max = min + PRIORITY_SPAN - 1;
  const [before, inClass] = await Promise.all([redis.zcount(key, '-inf', `(${min}`), redis.zcount(key, min, max)]);
  if (from >= inClass) return { ids: [] };

  const stop = Math.min(inClass, from + count) - 1;
  const ids = await redis.zrange(key, before + from, before + stop);
  return { ids, next: from + ids.length < inClass ? from + ids.length : undefined };
}

async function fromList(redis: RedisClient, key: string, from: number, count: number): Promise<IdPage> {
  const ids = await redis.lrange(key, from, from + count - 1);
  return { ids, next: ids.length === count ? from + count : undefined };
}

async function fromSortedSet(redis: RedisClient, key: string, from: number, count: number, newestFirst: boolean): Promise<IdPage> {
  const ids = newestFirst
    ? await redis.zrevrange(key, from, from + count - 1)
    : await redis.zrange(key, from, from + count - 1);
  return { ids, next: ids.length === count ? from + count : undefined };
}
