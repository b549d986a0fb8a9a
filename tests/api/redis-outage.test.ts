import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.ts';
import { waitFor } from '../helpers/runtime.ts';
import { api, startServer, type TestServer } from '../helpers/server.ts';

const FIXTURES = resolve(import.meta.dirname, '..', 'fixtures', 'plugins');

let redis: TestRedis;
let server: TestServer;

beforeAll(async () => {
  // A Redis of this test's own: it is stopped and started again.
  redis = await startTestRedis(['--appendonly', 'yes']);
  server = await startServer({ redisUrl: redis.url, config: { plugins: { dirs: [FIXTURES] } } });
});

afterAll(async () => {
  await server?.stop();
  await redis?.stop();
});

describe('Redis outage', () => {
  it('answers 503 with Retry-After while Redis is down, stores nothing, and recovers', async () => {
    const before = await api(server, 'POST', '/api/v1/jobs', { type: 'test.noop', payload: { n: 1 } });
    expect(before.status).toBe(202);

    await redis.stop();
    const during = await api(server, 'POST', '/api/v1/jobs', {
      type: 'test.noop',
      payload: { n: 2 },
      idempotencyKey: 'during-outage',
    });
    const readiness = await fetch(`${server.url}/readyz`);

    expect(during.status, server.output().slice(-3000)).toBe(503);
    expect(during.headers.get('retry-after')).toBe('1');
    expect(during.body.error.code).toBe('unavailable');
    expect(readiness.status).toBe(503);

    await redis.restart();
    await waitFor(async () => (await fetch(`${server.url}/readyz`)).status === 200, 20_000, 200);

    // Nothing of the refused submission was stored: the same key is new now.
    const after = await api(server, 'POST', '/api/v1/jobs', {
      type: 'test.noop',
      payload: { n: 3 },
      idempotencyKey: 'during-outage',
    });
    expect(after.status).toBe(202);
    expect(after.body.duplicate).toBe(false);

    // The job accepted before the outage survived it and ran.
    const job = await waitFor(async () => {
      const res = await api(server, 'GET', `/api/v1/jobs/${before.body.id}`);
      return res.body.state === 'completed' ? res.body : undefined;
    });
    expect(job.result).toEqual({ echoed: { n: 1 } });
  });
});
