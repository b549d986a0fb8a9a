import type { Keys, RedisClient } from '../../redis/index.ts';
import type { Cache, KeyValueStore } from '../../sdk/services.ts';

/** A plugin's key-value store: JSON values under `<prefix>:kv:<plugin>:<key>`. */
export function pluginKv(redis: RedisClient, keys: Keys, plugin: string): KeyValueStore {
  const key = (k: string) => keys.pluginKv(plugin, k);
  return {
    async get<T>(k: string) {
      const raw = await redis.get(key(k));
      return raw === null ? undefined : (JSON.parse(raw) as T);
    },
    async set(k, value, options = {}) {
      const json = JSON.stringify(value ?? null);
      if (options.ttlMs) await redis.set(key(k), json, 'PX', options.ttlMs);
      else await redis.set(key(k), json);
    },
    async delete(k) {
      await redis.del(key(k));
    },
    async ping() {
      const started = performance.now();
      await redis.ping();
      return performance.now() - started;
    },
  };
}

/** Cache entries other services read: JSON under `<prefix>:cache:<key>`, always with a TTL. */
export function cacheWriter(redis: RedisClient, keys: Keys): Cache {
  return {
    async set(k, value, ttlMs) {
      await redis.set(keys.cache(k), JSON.stringify(value ?? null), 'PX', Math.max(1, Math.round(ttlMs)));
    },
    async get<T>(k: string) {
      const raw = await redis.get(keys.cache(k));
      return raw === null ? undefined : (JSON.parse(raw) as T);
    },
  };
}
