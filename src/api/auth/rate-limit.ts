import type { Keys, RedisClient } from '../../redis/index.ts';
import { UnavailableError } from '../../engine/index.ts';
import type { RateLimit } from './key-store.ts';

/*
 * takeTokens — a token bucket per API key, shared by every API process.
 * KEYS[1]  the key's bucket hash: `tokens` (may be fractional) and `ts` (ms)
 * ARGV[1]  refill rate, tokens per second
 * ARGV[2]  bucket size (burst)
 * ARGV[3]  tokens this request takes
 * Returns { 1, 0 } when taken, or { 0, ms to wait until enough are back }.
 *
 * Time comes from the Redis server (TIME), so API processes with skewed
 * clocks share one bucket fairly. One key, one script: atomic; a crash
 * leaves the bucket as it was before or after the take. An idle bucket
 * expires once it would be full again.
 */
const TAKE_TOKENS = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000)
local taken = 0
local waitMs = 0
if tokens >= cost then
  tokens = tokens - cost
  taken = 1
else
  waitMs = math.ceil((cost - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return { taken, waitMs }
`;

/** The outcome of a take: allowed, or how long to wait. */
export interface RateDecision {
  allowed: boolean;
  retryAfterMs: number;
}

/**
 * Takes `cost` tokens from the bucket of key `keyId`. A cost above the
 * bucket's size is cut to it, so a large bulk empties the bucket instead of
 * being refused for ever.
 */
export async function takeTokens(
  redis: RedisClient,
  keys: Keys,
  keyId: string,
  limit: RateLimit,
  cost: number,
): Promise<RateDecision> {
  const take = Math.min(Math.max(1, cost), limit.burst);
  try {
    const [taken, waitMs] = (await redis.eval(
      TAKE_TOKENS,
      1,
      keys.rateBucket(keyId),
      String(limit.perSecond),
      String(limit.burst),
      String(take),
    )) as [number, number];
    return { allowed: taken === 1, retryAfterMs: waitMs };
  } catch (err) {
    throw new UnavailableError(`Redis cannot check the rate limit: ${(err as Error).message}`, { cause: err });
  }
}
