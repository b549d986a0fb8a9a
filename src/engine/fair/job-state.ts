import type { Queue } from 'bullmq';
import type { Keys, RedisClient } from '../../redis/index.ts';
import { delayedBand } from './hold.ts';

/**
 * A job's BullMQ state, with a fair queue's held jobs told apart: BullMQ
 * calls them `delayed`; a held job whose ready time passed is `waiting`.
 */
export async function jobStateOf(queue: Queue, redis: RedisClient, keys: Keys, queueName: string, id: string): Promise<string> {
  const state = await queue.getJobState(id);
  if (state !== 'delayed') return state;
  const score = await redis.zscore(keys.bullKey(queueName, 'delayed'), id);
  return score === null ? state : delayedBand(Number(score));
}
