import { bullPriority, type Priority } from '../../core/index.ts';
import type { Keys, RedisClient } from '../../redis/index.ts';
import { LISTED_SCORE, readyHeldRange } from '../fair/hold.ts';

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
      return fromSegments(redis, key('delayed'), (await delayedBands(redis, key('delayed'))).delayed, from, count);
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
  const prioritizedLength = await redis.zcard(key('prioritized'));
  if (from < listLength + prioritizedLength) {
    const page = await fromSortedSet(redis, key('prioritized'), from - listLength, count, false);
    return { ids: page.ids, next: from + page.ids.length };
  }
  // A fair queue's jobs waiting their turn, held in the delayed set.
  const offset = listLength + prioritizedLength;
  const page = await fromSegments(redis, key('delayed'), (await delayedBands(redis, key('delayed'))).waiting, from - offset, count);
  return { ids: page.ids, next: page.next === undefined ? undefined : page.next + offset };
}

/** Rank ranges `[start, length]` of BullMQ's delayed set holding waiting and truly delayed jobs (see fair/hold.ts). */
async function delayedBands(redis: RedisClient, key: string): Promise<{ waiting: [number, number][]; delayed: [number, number][] }> {
  const [readyFrom, readyTo] = readyHeldRange();
  const [total, real, ready, listed] = await Promise.all([
    redis.zcard(key),
    redis.zcount(key, '-inf', readyFrom.replace('(', '')),
    redis.zcount(key, readyFrom, readyTo),
    redis.zcount(key, LISTED_SCORE, '+inf'),
  ]);
  const future = total - real - ready - listed;
  return {
    waiting: [[real, ready], [real + ready + future, listed]],
    delayed: [[0, real], [real + ready, future]],
  };
}

/** Reads ids by rank across consecutive segments of a sorted set, as if they were one list. */
async function fromSegments(redis: RedisClient, key: string, segments: [number, number][], from: number, count: number): Promise<IdPage> {
  const ids: string[] = [];
  let skip = from;
  for (const [start, length] of segments) {
    if (skip >= length) {
      skip -= length;
      continue;
    }
    const take = Math.min(length - skip, count - ids.length);
    if (take > 0) ids.push(...(await redis.zrange(key, start + skip, start + skip + take - 1)));
    skip = 0;
    if (ids.length >= count) break;
  }
  const size = segments.reduce((n, [, length]) => n + length, 0);
  return { ids, next: from + ids.length < size ? from + ids.length : undefined };
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
