import { Redis, type RedisOptions } from 'ioredis';

/**
 * How a connection behaves while Redis is away:
 * - `command`: fail fast, so an API request can answer 503 instead of hanging;
 * - `blocking`: wait forever and reconnect, as BullMQ workers need.
 */
export type ConnectionRole = 'command' | 'blocking';

export function createRedis(url: string, role: ConnectionRole, name?: string): Redis {
  const base: RedisOptions = {
    connectionName: name,
    lazyConnect: false,
    // Reconnect quickly at first, then every 2 s at most, for ever.
    retryStrategy: (times) => Math.min(100 * times, 2000),
  };
  const options: RedisOptions =
    role === 'command'
      ? { ...base, enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 5000 }
      : { ...base, maxRetriesPerRequest: null };

  return new Redis(url, options);
}

/** Resolves when the connection is ready, or rejects after `timeoutMs`. */
export async function waitReady(redis: Redis, timeoutMs = 10_000): Promise<void> {
  if (redis.status === 'ready') return;

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      redis.off('ready', onReady);
    };
    redis.on('ready', onReady);
  });
}
