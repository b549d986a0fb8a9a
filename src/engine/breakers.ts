import type { Config } from '../config/index.ts';
import type { Keys, RedisClient } from '../redis/index.ts';
import type { JobEvents } from './events.ts';
import type { Logger } from './logger.ts';

/** Breaker settings (`breakers` in the configuration). */
export type BreakerSettings = Config['breakers'];

/** What `acquire` decided for one job. */
export type BreakerDecision = { allowed: true; probe: boolean } | { allowed: false; retryInMs: number };

export interface BreakerState {
  downstream: string;
  state: 'closed' | 'open' | 'half-open';
  /** Failures in the current window (for an open breaker: the window that opened it). */
  failures: number;
  /** Results counted in the current window. */
  requests: number;
  openedAt?: number;
  /**
   * When it entered its state: opened, went half-open (first probe), or
   * closed after a probe. Absent for a breaker that has not opened in the
   * last 24 hours of activity.
   */
  since?: number;
  /** When an open breaker lets its first probe through. */
  probeFrom?: number;
}

/** A breaker as the list of every breaker shows it. */
export interface ListedBreaker extends BreakerState {
  /** The last time a job's result was counted for this downstream (to the minute). */
  lastSeenAt: number;
}

/** An idle breaker's hash expires after this; an expired one is closed with an empty window. */
const IDLE_EXPIRY_MS = 24 * 60 * 60 * 1000;
/** Each process refreshes a downstream's place in the index at most this often. */
const INDEX_REFRESH_MS = 60 * 1000;
/** Breakers a listing returns at most, the most recently seen first. */
const LIST_LIMIT = 1000;

/*
 * breakerAcquire
 * KEYS[1]  the breaker's hash (state, openedAt, probes, probeAt, ...)
 * ARGV[1]  now (ms)   ARGV[2]  openMs   ARGV[3]  probes allowed at once
 * ARGV[4]  probeTimeoutMs
 * Returns { allowed 0|1, wait ms, probe 0|1 }.
 * closed: allowed. open: refused until openedAt + openMs, then the caller
 * becomes the first probe (half-open). half-open: allowed as a probe while
 * fewer than ARGV[3] probes are out, or when the last one was granted more
 * than probeTimeoutMs ago (presumed lost with its worker). One key: atomic.
 */
const ACQUIRE = `
local s = redis.call('HMGET', KEYS[1], 'state', 'openedAt', 'probes', 'probeAt')
local state = s[1] or 'closed'
if state == 'closed' then return {1, 0, 0} end
local now = tonumber(ARGV[1])
if state == 'open' then
  local wait = tonumber(s[2] or '0') + tonumber(ARGV[2]) - now
  if wait > 0 then return {0, wait, 0} end
  redis.call('HSET', KEYS[1], 'state', 'half', 'probes', 1, 'probeAt', now, 'halfAt', now)
  return {1, 0, 1}
end
local probes = tonumber(s[3] or '0')
local lost = now - tonumber(s[4] or '0') > tonumber(ARGV[4])
if lost then probes = 0 end
if probes < tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[1], 'probes', probes + 1, 'probeAt', now)
  return {1, 0, 1}
end
return {0, tonumber(ARGV[2]), 0}
`;

/*
 * breakerRecord
 * KEYS[1]  the breaker's hash
 * ARGV[1]  now (ms)   ARGV[2]  'ok' or 'fail'   ARGV[3]  '1' when a probe
 * ARGV[4]  windowMs   ARGV[5]  failure threshold (0: none)   ARGV[6]  failure rate
 * ARGV[7]  minimum requests for the rate   ARGV[8]  idle expiry (ms)
 * Returns { event, failures, requests }: event 1 opened, 2 closed, 0 none.
 * closed: counts the result in a fixed window and opens on too many
 * failures (count or rate). half-open: a probe's success closes it (fresh
 * window, `closedAt` kept), its failure opens it again. Results of jobs that started before
 * the breaker opened are ignored. One key: atomic.
 */
const RECORD = `
local now = tonumber(ARGV[1])
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
if state == 'half' then
  if ARGV[3] ~= '1' then return {0, 0, 0} end
  if ARGV[2] == 'ok' then
    redis.call('DEL', KEYS[1])
    redis.call('HSET', KEYS[1], 'closedAt', now)
    redis.call('PEXPIRE', KEYS[1], ARGV[8])
    return {2, 0, 0}
  end
  redis.call('HSET', KEYS[1], 'state', 'open', 'openedAt', now, 'probes', 0)
  return {0, 0, 0}
end
if state == 'open' then return {0, 0, 0} end
local w = redis.call('HMGET', KEYS[1], 'windowStart', 'failures', 'requests')
local windowStart, failures, requests = tonumber(w[1] or '0'), tonumber(w[2] or '0'), tonumber(w[3] or '0')
if now - windowStart >= tonumber(ARGV[4]) then
  windowStart, failures, requests = now, 0, 0
end
requests = requests + 1
if ARGV[2] == 'fail' then failures = failures + 1 end
redis.call('HSET', KEYS[1], 'windowStart', windowStart, 'failures', failures, 'requests', requests)
redis.call('PEXPIRE', KEYS[1], ARGV[8])
if ARGV[2] == 'fail' and ((tonumber(ARGV[5]) > 0 and failures >= tonumber(ARGV[5])) or
    (requests >= tonumber(ARGV[7]) and failures / requests >= tonumber(ARGV[6]))) then
  redis.call('HSET', KEYS[1], 'state', 'open', 'openedAt', now, 'probes', 0)
  return {1, failures, requests}
end
return {0, failures, requests}
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    tmBreakerAcquire(key: string, ...args: string[]): Promise<[number, number, number]>;
    tmBreakerRecord(key: string, ...args: string[]): Promise<[number, number, number]>;
  }
}

/**
 * Circuit breakers, one per downstream, with their state in Redis so every
 * worker process sees the same one. A job whose type names a downstream
 * asks `acquire` before its attempt and reports the outcome with `record`.
 *
 * Each breaker's hash is its own hash tag, so a Cluster spreads them; a
 * sorted set of downstream names by last activity lets `list` find them all
 * without scanning keys. The index is written beside the breaker, not in its
 * script (another slot), so a crash between the two can only delay a
 * breaker's first appearance in the list until its next result.
 */
export class Breakers {
  /** When this process last wrote each downstream into the index. */
  private readonly indexed = new Map<string, number>();

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly settings: BreakerSettings,
    private readonly events: JobEvents,
    private readonly log: Logger,
  ) {
    if (typeof (redis as any).tmBreakerAcquire !== 'function') {
      redis.defineCommand('tmBreakerAcquire', { numberOfKeys: 1, lua: ACQUIRE });
      redis.defineCommand('tmBreakerRecord', { numberOfKeys: 1, lua: RECORD });
    }
  }

  /** May a job for `downstream` run now? A refusal says when to look again. */
  async acquire(downstream: string, now = Date.now()): Promise<BreakerDecision> {
    const s = this.settings;
    const [allowed, wait, probe] = await this.redis.tmBreakerAcquire(
      this.key(downstream),
      String(now),
      String(s.openMs),
      String(s.halfOpenProbes),
      String(s.probeTimeoutMs),
    );
    if (allowed === 1) return { allowed: true, probe: probe === 1 };
    return { allowed: false, retryInMs: Math.max(1, Number(wait)) };
  }

  /** Reports how a job for `downstream` went: `ok` false for a failure the downstream caused. */
  async record(downstream: string, ok: boolean, probe: boolean, now = Date.now()): Promise<void> {
    const s = this.settings;
    await this.index(downstream, now);
    const [event, failures, requests] = await this.redis.tmBreakerRecord(
      this.key(downstream),
      String(now),
      ok ? 'ok' : 'fail',
      probe ? '1' : '0',
      String(s.windowMs),
      String(s.failureThreshold ?? 0),
      String(s.failureRate),
      String(s.minRequests),
      String(IDLE_EXPIRY_MS),
    );
    if (event === 1) {
      this.log.warn({ downstream, failures, requests, openMs: s.openMs }, 'breaker opened');
      this.events.emit('breaker.opened', { downstream, failures, requests });
    } else if (event === 2) {
      this.log.info({ downstream }, 'breaker closed');
      this.events.emit('breaker.closed', { downstream });
    }
  }

  /** The breaker of `downstream` as it stands. */
  async state(downstream: string): Promise<BreakerState> {
    return this.fromHash(downstream, await this.redis.hgetall(this.key(downstream)));
  }

  /**
   * Every breaker that counted a result in the last 24 hours, most recently
   * seen first: one read of the index, then one read per breaker (each its
   * own key, so this works the same on a Cluster).
   */
  async list(now = Date.now()): Promise<ListedBreaker[]> {
    const index = this.keys.breakerIndex();
    await this.redis.zremrangebyscore(index, '-inf', now - IDLE_EXPIRY_MS);
    const flat = await this.redis.zrevrange(index, 0, LIST_LIMIT - 1, 'WITHSCORES');

    const seen: [string, number][] = [];
    for (let i = 0; i < flat.length; i += 2) seen.push([flat[i], Number(flat[i + 1])]);
    const hashes = await Promise.all(seen.map(([name]) => this.redis.hgetall(this.keys.breaker(name))));
    return seen.map(([name, lastSeenAt], i) => ({ ...this.fromHash(name, hashes[i]), lastSeenAt }));
  }

  /** How long a deferred job waits: until the next probe time, spread so they do not return at once. */
  deferDelayMs(retryInMs: number, random: () => number = Math.random): number {
    return retryInMs + Math.round(random() * this.settings.deferSpreadMs);
  }

  private key(downstream: string): string {
    return this.keys.breaker(normaliseDownstream(downstream));
  }

  private fromHash(downstream: string, hash: Record<string, string>): BreakerState {
    const raw = hash.state ?? 'closed';
    const state = raw === 'half' ? 'half-open' : (raw as 'closed' | 'open');
    const at = (field: string) => (hash[field] ? Number(hash[field]) : undefined);
    const openedAt = at('openedAt');
    const since = state === 'open' ? openedAt : state === 'half-open' ? at('halfAt') : at('closedAt');
    return dropUndefined({
      downstream,
      state,
      failures: Number(hash.failures ?? 0),
      requests: Number(hash.requests ?? 0),
      openedAt,
      since,
      probeFrom: state === 'open' && openedAt !== undefined ? openedAt + this.settings.openMs : undefined,
    });
  }

  /** Puts `downstream` in the index of breakers, at most once a minute per process. */
  private async index(downstream: string, now: number): Promise<void> {
    const name = normaliseDownstream(downstream);
    if (now - (this.indexed.get(name) ?? 0) < INDEX_REFRESH_MS) return;
    this.indexed.set(name, now);
    await this.redis.zadd(this.keys.breakerIndex(), now, name).catch((err) => {
      // The breaker itself still works; it shows in the list after a later result.
      this.indexed.delete(name);
      this.log.warn({ err, downstream: name }, 'cannot index the breaker');
    });
  }
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** A downstream name made safe as a key part: no hash-tag braces, bounded length. */
export function normaliseDownstream(name: string): string {
  return name.replace(/[{}\s]/g, '_').slice(0, 200).toLowerCase();
}
