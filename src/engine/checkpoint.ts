import type { RedisClient } from '../redis/index.ts';
import type { Checkpoint } from '../sdk/types.ts';

/** The hash field of a BullMQ job hash where a handler's checkpoint lives. */
export const CHECKPOINT_FIELD = 'tm_checkpoint';

/*
 * setCheckpoint
 * KEYS[1]  the job's BullMQ hash
 * ARGV[1]  hash field of the checkpoint
 * ARGV[2]  the checkpoint, JSON
 * Returns 1 when written, 0 when the job no longer exists.
 *
 * Kept inside the job's hash so it goes with the job's retention; written only
 * while the hash exists so a cancelled job does not come back as an orphan.
 * One HSET: a crash leaves the old or the new value.
 */
const SET_CHECKPOINT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    tmSetCheckpoint(key: string, field: string, value: string): Promise<number>;
  }
}

/** The checkpoint of the job whose hash is `jobKey`. */
export function jobCheckpoint(redis: RedisClient, jobKey: string): Checkpoint {
  if (typeof (redis as any).tmSetCheckpoint !== 'function') {
    redis.defineCommand('tmSetCheckpoint', { numberOfKeys: 1, lua: SET_CHECKPOINT });
  }

  return {
    async get<T>() {
      const raw = await redis.hget(jobKey, CHECKPOINT_FIELD);
      return raw ? (JSON.parse(raw) as T) : undefined;
    },
    async set(value) {
      await redis.tmSetCheckpoint(jobKey, CHECKPOINT_FIELD, JSON.stringify(value ?? null));
    },
  };
}
