import { hostname } from 'node:os';
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
  plugins: { name: string; version: string; hash: string }[];
  startedAt: number;
}

/** A unique id for this worker process: host, pid and a random suffix. */
export function newWorkerId(): string {
  return `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * Tells every other process, through Redis, that this worker process is alive
 * and what it runs. Missing a beat because Redis is away is harmless.
 */
export function startHeartbeat(redis: RedisClient, keys: Keys, info: WorkerProcessInfo): () => Promise<void> {
  const beat = async () => {
    const now = Date.now();
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

  return async () => {
    clearInterval(timer);
    await redis
      .multi()
      .zrem(keys.workers(), info.id)
      .hdel(keys.workerInfo(), info.id)
      .exec()
      .catch(() => {
        // Leaving while Redis is away: the entry goes stale and is forgotten later.
      });
  };
}

/** Ids of the worker processes seen within `WORKER_STALE_MS`. */
export async function liveWorkers(redis: RedisClient, keys: Keys): Promise<string[]> {
  return redis.zrangebyscore(keys.workers(), Date.now() - WORKER_STALE_MS, '+inf');
}
