import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TypeDepthReader, SAMPLE_SIZE, scaleTo } from '../../src/engine/index.ts';
import { createRedis, Keys, waitReady, type RedisClient } from '../../src/redis/index.ts';
import { uniquePrefix } from '../helpers/runtime.ts';

let redis: RedisClient;
beforeAll(async () => {
  redis = createRedis(inject('redisUrl'), 'command');
  await waitReady(redis);
});
afterAll(() => {
  redis.disconnect();
});

/** Jobs in BullMQ's layout: an id in a state's list or sorted set and a hash named after its type. */
async function store(keys: Keys, queue: string, state: 'wait' | 'delayed' | 'active', types: string[]) {
  const pipeline = redis.pipeline();
  types.forEach((type, i) => {
    const id = `${queue}.${state}${i}`;
    pipeline.hset(keys.job(queue, id), 'name', type, 'data', '{}');
    if (state === 'delayed') pipeline.zadd(keys.bullKey(queue, state), Date.now() + 60_000 + i, id);
    else pipeline.rpush(keys.bullKey(queue, state), id);
  });
  await pipeline.exec();
}

describe('depth per job type', () => {
  it('counts every job exactly while a state holds few, DLQ entries included', async () => {
    const keys = new Keys(uniquePrefix());
    await store(keys, 'mail', 'wait', ['email.send', 'email.send', 'sms.send']);
    await store(keys, 'mail', 'delayed', ['email.send']);
    await store(keys, 'mail', 'active', ['sms.send']);
    await redis.zadd(keys.dlq('mail'), 1, 'e1', 2, 'e2');
    await redis.hset(keys.dlqEntries('mail'), 'e1', JSON.stringify({ type: 'sms.send' }), 'e2', JSON.stringify({ type: 'push.send' }));

    const { mail } = await new TypeDepthReader(redis, keys).read(['mail']);
    expect(mail.estimated).toEqual([]);
    expect(mail.types).toEqual({
      'email.send': { waiting: 2, delayed: 1, active: 0, dlq: 0 },
      'sms.send': { waiting: 1, delayed: 0, active: 1, dlq: 1 },
      'push.send': { waiting: 0, delayed: 0, active: 0, dlq: 1 },
    });
  });

  it('reads a bounded sample of a big state and scales it to the exact total', async () => {
    const keys = new Keys(uniquePrefix());
    // A list filled in two bursts: evenly spaced slices see both halves.
    await store(keys, 'bulk', 'wait', [...Array(1500).fill('a.first'), ...Array(1500).fill('b.second')]);
    // A sorted set with one type in six: a random sample lands near it.
    await store(keys, 'bulk', 'delayed', Array.from({ length: 3000 }, (_, i) => (i % 6 === 0 ? 'rare.type' : 'common.type')));

    const { bulk } = await new TypeDepthReader(redis, keys).read(['bulk']);
    expect(bulk.estimated.sort()).toEqual(['delayed', 'waiting']);
    expect(bulk.types['a.first'].waiting).toBe(1500);
    expect(bulk.types['b.second'].waiting).toBe(1500);
    const rare = bulk.types['rare.type'].delayed;
    expect(rare + bulk.types['common.type'].delayed).toBe(3000);
    // 500 expected; five standard deviations of a 1,000-job sample either side.
    expect(Math.abs(rare - 500)).toBeLessThan(150);
    expect(SAMPLE_SIZE).toBeLessThan(3000);
  });

  it('scales sample counts so they add up to the total', () => {
    const scaled = scaleTo(new Map([['x', 1], ['y', 1], ['z', 1]]), 1000);
    expect([...scaled.values()].reduce((a, b) => a + b, 0)).toBe(1000);
    expect([...scaled.values()].sort()).toEqual([333, 333, 334]);
  });
});
