import { hostname } from 'node:os';
import type { PluginRejection, VersionStats } from '../plugins/index.ts';
import type { Keys, RedisClient } from '../redis/index.ts';

const BEAT_MS = 5000;
/** A worker process not heard from for this long is not counted as running. */
export const WORKER_STALE_MS = 3 * BEAT_MS;
/** Entries older than this are removed from the registry of processes. */
const FORGET_MS = 60 * 60 * 1000;

export interface WorkerProcessInfo {
  id: string;
  host: string;
  pid: number;
  queues: string[];
  /** Plugin versions serving or draining here, with their job counts. */
  plugins: ({ name: string; version: string; hash: string } & Partial<VersionStats>)[];
  /** Plugin sources this process rejected at their current content. */
  rejected?: PluginRejection[];
  startedAt: number;
}

/** Stops the heartbeat (and removes the entry); `beat` sends one now, e.g. after a reload. */
export type Heartbeat = (() => Promise<void>) & { beat(): Promise<void> };

/** A unique id for this worker process: host, pid and a random suffix. */
export function newWorkerId(): string {
  return `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * Tells every other process, through Redis, that this worker process is alive
 * and what it runs. Missing a beat because Redis is away is harmless.
 */
export function startHeartbeat(redis: RedisClient, keys: Keys, describe: WorkerProcessInfo | (() => WorkerProcessInfo)): Heartbeat {
  const current = () => (typeof describe === 'function' ? describe() : describe);
  const beat = async () => {
    const now = Date.now();
    const info = current();
    await redis
      .multi()
      .zadd(keys.workers(), now, info.id)
      .hset(keys.workerInfo(), info.id, JSON.stringify(info))
      .zremrangebyscore(keys.workers(), 0, now - FORGET_MS)
      .exec()
      .catch(() => {
        // Redis is unreachable; the next beat tries again and readiness shows the outage.
      });
  };
  void beat();
  const timer = setInterval(beat, BEAT_MS);
  timer.unref();

  const stop = async () => {
    clearInterval(timer);
    const { id } = current();
    await redis
      .multi()
      .zrem(keys.workers(), id)
      .hdel(keys.workerInfo(), id)
      .exec()
      .catch(() => {
        // Leaving while Redis is away: the entry goes stale and is forgotten later.
      });
  };
  return Object.assign(stop, { beat });
}

/** The description every live worker process last sent. */
export async function liveWorkerInfo(redis: RedisClient, keys: Keys): Promise<WorkerProcessInfo[]> {
  const ids = await liveWorkers(redis, keys);
  if (!ids.length) return [];
  const raw = await redis.hmget(keys.workerInfo(), ...ids);
  return raw.flatMap((r) => (r ? [JSON.parse(r) as WorkerProcessInfo] : []));
}

/** Ids of the worker processes seen within `WORKER_STALE_MS`. */
export async function liveWorkers(redis: RedisClient, keys: Keys): Promise<string[]> {
  return redis.zrangebyscore(keys.workers(), Date.now() - WORKER_STALE_MS, '+inf');
}
