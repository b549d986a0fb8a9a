import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/engine/index.ts';
import { startTestCluster, nodeOfKey, type TestCluster } from '../helpers/redis-cluster.ts';
import { startTestRuntime, uniquePrefix, waitFor } from '../helpers/runtime.ts';
import { api, startServer } from '../helpers/server.ts';

const FIXTURES = resolve(import.meta.dirname, '..', 'fixtures', 'plugins');

let cluster: TestCluster;
let runtime: Runtime;

beforeAll(async () => {
  cluster = await startTestCluster(3);
  runtime = await startTestRuntime({
    redisUrl: cluster.url,
    config: {
      plugins: { dirs: [FIXTURES] },
      defaults: { backoffMs: 20 },
      metrics: { flushIntervalMs: 200 },
      // Names chosen so that their hash tags land on different masters (checked below).
      queues: { default: { concurrency: 5 }, alpha: { concurrency: 5 }, beta: { concurrency: 5 } },
    },
  });
});

afterAll(async () => {
  await runtime?.stop();
  await cluster?.stop();
});

async function finished(id: string) {
  return waitFor(async () => {
    const job = await runtime.jobs.get(id);
    return job.state === 'completed' || job.state === 'dlq' ? job : undefined;
  }, 30_000);
}

describe('Redis Cluster', () => {
  it('spreads queues over different masters, each queue in one slot', async () => {
    const prefix = runtime.keys.prefix;
    const owners = await Promise.all(
      ['default', 'alpha', 'beta'].map((q) => nodeOfKey(cluster, `${prefix}:{${q}}:wait`)),
    );

    expect(new Set(owners).size).toBeGreaterThan(1);
    expect(await nodeOfKey(cluster, `${prefix}:{alpha}:active`)).toBe(owners[1]);
  });

  it('stores, runs and reads a job', async () => {
    const { id } = await runtime.producer.submit({ type: 'test.noop', payload: { n: 1 }, queue: 'alpha' });

    const job = await finished(id);

    expect(job.state).toBe('completed');
    expect(job.result).toEqual({ echoed: { n: 1 } });
    expect(job.attempts).toHaveLength(1);
  });

  it('takes a bulk submission spanning queues on different masters, with idempotency keys', async () => {
    const jobs = ['default', 'alpha', 'beta', 'alpha'].map((queue, i) => ({
      type: 'test.noop',
      payload: { n: i },
      queue,
      idempotencyKey: `bulk-${runtime.keys.prefix}-${i}`,
    }));

    const first = await runtime.producer.submitBulk(jobs);
    const again = await runtime.producer.submitBulk(jobs);

    expect(first.map((j) => j.duplicate)).toEqual([false, false, false, false]);
    expect(again.map((j) => j.duplicate)).toEqual([true, true, true, true]);
    for (const j of first) expect((await finished(j.id)).state).toBe('completed');
  });

  it('retries a failing job and fails it for good after its retries', async () => {
    const { id } = await runtime.producer.submit({ type: 'test.flaky', payload: { failures: 9 }, retries: 2, queue: 'beta' });

    const job = await finished(id);

    expect(job.state).toBe('dlq');
    expect(job.attempts.map((a) => a.outcome)).toEqual(['failed', 'failed', 'failed']);
  });

  it('counts completed and failed jobs in the metrics, per queue', async () => {
    const snapshot = await waitFor(async () => {
      const s = await runtime.metrics.snapshot();
      const alpha = s.queues.find((q) => q.queue === 'alpha');
      const beta = s.queues.find((q) => q.queue === 'beta');
      return alpha && beta && alpha.window.completed >= 3 && beta.window.failed >= 1 ? s : undefined;
    }, 30_000);

    expect(snapshot.queues.find((q) => q.queue === 'default')!.window.completed).toBeGreaterThanOrEqual(1);
  });

  it('reports ready with a live worker heartbeat', async () => {
    expect(await runtime.readiness()).toEqual({ redis: true, workers: true });
  });

  it('serves the HTTP API and a separate worker process against the cluster', async () => {
    const config = {
      redis: { url: cluster.url, prefix: uniquePrefix(), allowEviction: true },
      plugins: { dirs: [FIXTURES] },
      queues: { default: { concurrency: 2 }, alpha: { concurrency: 2 } },
    };
    const worker = await startServer({ role: 'worker', config, readyTimeoutMs: 120_000 });
    const server = await startServer({ role: 'api', config, readyTimeoutMs: 120_000 });
    try {
      const created = await api(server, 'POST', '/api/v1/jobs', { type: 'test.noop', payload: { n: 7 }, queue: 'alpha' });
      expect(created.status).toBe(202);

      const done = await waitFor(async () => {
        const res = await api(server, 'GET', `/api/v1/jobs/${created.body.id}`);
        return res.body?.state === 'completed' ? res.body : undefined;
      }, 30_000);
      expect(done.result).toEqual({ echoed: { n: 7 } });

      // Listing, history, and API keys made at run time (their own scripts and hash tags).
      const listed = await api(server, 'GET', '/api/v1/jobs?queue=alpha&state=completed');
      expect(listed.status).toBe(200);
      expect(JSON.stringify(listed.body)).toContain(created.body.id);
      expect((await api(server, 'GET', `/api/v1/jobs/${created.body.id}/history`)).status).toBe(200);
      const key = await api(server, 'POST', '/api/v1/keys', { name: 'cluster-reader', scopes: ['read'] });
      expect(key.status).toBe(201);
      expect((await api(server, 'GET', `/api/v1/jobs/${created.body.id}`, undefined, key.body.key)).status).toBe(200);
      expect((await api(server, 'DELETE', `/api/v1/keys/${key.body.id}`)).status).toBeLessThan(300);
      expect((await api(server, 'GET', `/api/v1/jobs/${created.body.id}`, undefined, key.body.key)).status).toBe(401);
    } finally {
      await server.stop();
      await worker.stop();
    }
  }, 240_000);
});
