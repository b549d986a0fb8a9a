import type { RedisClient } from '../redis/index.ts';
import type { AttemptRecord } from '../core/index.ts';

/** The hash field of a BullMQ job hash where TaskMaster keeps its attempts. */
export const ATTEMPTS_FIELD = 'tm_attempts';

/*
 * appendAttempt
 * KEYS[1]  the job's BullMQ hash
 * ARGV[1]  hash field holding the attempts: JSON records joined by commas
 * ARGV[2]  the attempt record, JSON
 * Returns 1 when appended, 0 when the job no longer exists.
 *
 * The attempts live inside the job's own hash so that BullMQ's retention
 * removes them with the job. Writing only while the hash exists keeps a job
 * removed mid-run (cancelled, cleaned) from coming back as an orphan key.
 * Records are joined as text, not decoded, to keep the script cheap on the
 * hot path. Atomic: a process dying half way leaves the old or the new list.
 */
const APPEND_ATTEMPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local raw = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], raw and (raw .. ',' .. ARGV[2]) or ARGV[2])
return 1
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    tmAppendAttempt(key: string, field: string, record: string): Promise<number>;
  }
}

export function defineAttemptCommands(redis: RedisClient): void {
  if (typeof (redis as any).tmAppendAttempt === 'function') return;
  redis.defineCommand('tmAppendAttempt', { numberOfKeys: 1, lua: APPEND_ATTEMPT });
}

export async function appendAttempt(redis: RedisClient, jobKey: string, record: AttemptRecord): Promise<void> {
  await redis.tmAppendAttempt(jobKey, ATTEMPTS_FIELD, JSON.stringify(record));
}

export function parseAttempts(raw: string | null | undefined): AttemptRecord[] {
  if (!raw) return [];
  try {
    return JSON.parse(`[${raw}]`);
  } catch {
    // A damaged field must not break reading the job; it shows no attempts.
    return [];
  }
}
