import { afterAll, describe, expect, it } from 'vitest';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.ts';
import { waitFor } from '../helpers/runtime.ts';
import { api } from '../helpers/server.ts';
import { chaosScale, Fleet, report, CHAOS_TIMEOUT_MS } from './fleet.ts';

const scale = chaosScale();
let redis: TestRedis | undefined;
let fleet: Fleet | undefined;

afterAll(async () => {
  await fleet?.stop();
  await redis?.stop();
});

const PAD = 'x'.repeat(2048);

describe('chaos: Redis full (maxmemory with noeviction)', () => {
  it('answers 503 when full, loses nothing accepted, and recovers when memory frees', async () => {
    redis = await startTestRedis(['--maxmemory-policy', 'noeviction']);
    fleet = new Fleet(redis.url);
    const apiServer = await fleet.start('api');
    const reader = await fleet.runtime();

    // 1. A ballast to free later, then a limit a little above what is in use.
    const ballastKey = `${fleet.prefix}:ballast`;
    await reader.redis.set(ballastKey, 'b'.repeat(2 * 1024 * 1024));
    const used = Number(/used_memory:(\d+)/.exec(await reader.redis.info('memory'))![1]);
    await reader.redis.config('SET', 'maxmemory', String(used + 512 * 1024 * scale));

    // 2. Submit until Redis refuses.
    const accepted: string[] = [];
    let refused: { status: number; code?: string } | undefined;
    for (let batch = 0; batch < 500 && !refused; batch++) {
      const jobs = Array.from({ length: 20 }, (_, i) => ({
        type: 'chaos.effect',
        payload: { ms: 1, pad: PAD },
        idempotencyKey: `full-${batch}-${i}`,
      }));
      const res = await api(apiServer, 'POST', '/api/v1/jobs/bulk', { jobs });
      if (res.status === 200 || res.status === 202) accepted.push(...res.body.jobs.map((j: { id: string }) => j.id));
      else refused = { status: res.status, code: res.body?.error?.code };
    }
    expect(refused).toEqual({ status: 503, code: 'unavailable' });

    // 3. Memory frees: submissions are taken again.
    await reader.redis.del(ballastKey);
    const after = await api(apiServer, 'POST', '/api/v1/jobs', { type: 'chaos.effect', payload: { ms: 1 }, idempotencyKey: 'full-after' });
    expect(after.status).toBe(202);
    accepted.push(after.body.id);

    // 4. A worker runs everything that was accepted, within the same limit.
    await fleet.start('worker');
    await waitFor(() => fleet!.settled(accepted), 90_000, 500);
    const counts = await fleet.tally(accepted, new Set());
    report('redis-full', { ...counts, refusedStatus: refused!.status });

    expect(accepted.length).toBeGreaterThan(20);
    expect(counts.lost).toBe(0);
    expect(counts.completed).toBe(accepted.length);
  }, CHAOS_TIMEOUT_MS);
});
