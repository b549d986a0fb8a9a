import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { uniquePrefix, waitFor } from '../helpers/runtime.ts';
import { startTestRedis } from '../helpers/redis-server.ts';
import { api, startServer, type TestServer } from '../helpers/server.ts';

const FIXTURES = resolve(import.meta.dirname, '..', 'fixtures', 'plugins');

const started: TestServer[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.stop()));
});

describe('api and worker roles', () => {
  it('runs jobs submitted to an api process in a separate worker process', async () => {
    const shared = { redis: { prefix: uniquePrefix() }, plugins: { dirs: [FIXTURES] } };
    const apiServer = await startServer({ role: 'api', redisUrl: inject('redisUrl'), config: shared, waitFor: 'healthy' });
    started.push(apiServer);

    // With no worker anywhere the API is alive but not ready, and jobs wait.
    const ready = await fetch(`${apiServer.url}/readyz`);
    expect(ready.status).toBe(503);
    const { body } = await api(apiServer, 'POST', '/api/v1/jobs', { type: 'test.flaky', payload: { failures: 0 } });
    await new Promise((r) => setTimeout(r, 500));
    expect((await api(apiServer, 'GET', `/api/v1/jobs/${body.id}`)).body.state).toBe('waiting');

    const worker = await startServer({ role: 'worker', redisUrl: inject('redisUrl'), config: shared });
    started.push(worker);

    const job = await waitFor(async () => {
      const res = await api(apiServer, 'GET', `/api/v1/jobs/${body.id}`);
      return res.body.state === 'completed' ? res.body : undefined;
    }, 30_000);
    expect(job.attempts[0].worker).toMatch(/:\d+:/);
    expect(job.attempts[0].worker).toContain(`:${worker.process.pid}:`);
    await waitFor(async () => (await fetch(`${apiServer.url}/readyz`)).status === 200, 15_000, 200);
  });

  it('drains and exits 0 on SIGTERM', async () => {
    const worker = await startServer({
      role: 'worker',
      redisUrl: inject('redisUrl'),
      config: { plugins: { dirs: [FIXTURES] } },
    });
    await waitFor(() => worker.output().includes('workers started'), 15_000);

    expect(await worker.stop('SIGTERM')).toBe(0);
  });

  it('still exits on SIGTERM when Redis is gone, once the drain limit and its grace have passed', async () => {
    const redis = await startTestRedis();
    const drainTimeoutMs = 1000;
    for (const role of ['worker', 'start'] as const) {
      const server = await startServer({ role, redisUrl: redis.url, config: { plugins: { dirs: [FIXTURES] }, worker: { drainTimeoutMs } } });
      started.push(server);
      await waitFor(() => server.output().includes(role === 'worker' ? 'workers started' : 'taskmaster api ready'), 30_000);
      await redis.stop(true);

      const asked = Date.now();
      const code = await server.stop('SIGTERM');
      const tookMs = Date.now() - asked;

      expect(code).not.toBeNull();
      // The drain limit, the 10 s grace, then about a second for each step still waiting.
      expect(tookMs).toBeLessThan(drainTimeoutMs + 10_000 + 20_000);
      await redis.restart();
    }
    await redis.stop();
  });
});
