import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, type Runtime } from '../../src/engine/index.ts';
import { LockKeeper } from '../../src/engine/lock-keeper.ts';
import { CANCEL_FIELD } from '../../src/engine/final-states.ts';
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

  it('puts jobs failing for good in the DLQ, lists them across masters, and a replay completes', async () => {
    const failing = await Promise.all(
      ['alpha', 'beta'].map((queue) => runtime.producer.submit({ type: 'test.flaky', payload: { failures: 1 }, retries: 0, queue })),
    );
    for (const { id } of failing) expect((await finished(id)).state).toBe('dlq');

    // One listing walks both queues, whose keys live on different masters.
    const page = await runtime.dlq.list({ type: 'test.flaky' });
    const entries = failing.map(({ id }) => page.entries.find((e) => e.jobId === id)!);
    expect(entries.map((e) => e?.queue)).toEqual(['alpha', 'beta']);
    expect(entries.map((e) => e.reason)).toEqual(['retries_exhausted', 'retries_exhausted']);
    expect((await runtime.dlq.list({ type: 'test.flaky', queue: 'alpha' })).entries.map((e) => e.jobId)).toContain(failing[0].id);

    // Replayed with a corrected payload, and with the same payload and a retry to spare.
    const edited = await runtime.control.replay(entries[0].id, { payload: { failures: 0 } });
    const retried = await runtime.control.replay(entries[1].id, { retries: 1 });
    const again = await runtime.control.replay(entries[1].id);

    expect(again).toEqual({ ...retried, duplicate: true });
    expect((await finished(edited.jobId)).state).toBe('completed');
    const second = await finished(retried.jobId);
    expect(second.state).toBe('completed');
    expect(second.attempts.map((a) => a.outcome)).toEqual(['failed', 'completed']);
    expect((await runtime.dlq.get(entries[0].id)).replays).toMatchObject([{ jobId: edited.jobId, edited: true }]);
    expect((await runtime.dlq.get(entries[1].id)).replays).toMatchObject([{ jobId: retried.jobId, edited: false }]);
  });

  it('keeps locks alive from the lock keeper thread (held, and taken while the loop is blocked), and sees a cancel mark', async () => {
    const prefix = runtime.keys.prefix;
    const jobKey = `${prefix}:{keeper-probe}:keeper-probe`;
    const stalledKey = `${prefix}:{keeper-probe}:stalled`;
    const redis = runtime.redis;
    const cancelled: string[] = [];
    const keeper = new LockKeeper({
      redisUrl: cluster.url,
      lockDurationMs: 600,
      cancelField: CANCEL_FIELD,
      log: createLogger('silent'),
      onCancel: (jobId) => cancelled.push(jobId),
    });
    await keeper.start();
    try {
      await redis.hset(jobKey, 'name', 'probe');
      await redis.set(`${jobKey}:lock`, 'token-1', 'PX', 600);
      await redis.sadd(stalledKey, 'keeper-probe');
      keeper.hold({ owner: 'probe#1', jobId: 'keeper-probe', token: 'token-1', lockKey: `${jobKey}:lock`, jobKey, stalledKey, deadline: Date.now() + 60_000 });

      // Three lock times later the lock is still there, and the job left the stalled set.
      await new Promise((r) => setTimeout(r, 1800));
      expect(await redis.get(`${jobKey}:lock`)).toBe('token-1');
      expect(await redis.sismember(stalledKey, 'keeper-probe')).toBe(0);

      await redis.hset(jobKey, CANCEL_FIELD, JSON.stringify({ at: Date.now() }));
      await waitFor(() => cancelled.length > 0, 10_000);
      expect(cancelled).toEqual(['keeper-probe']);

      // Released, the lock expires.
      keeper.release(`${jobKey}:lock`);
      await waitFor(async () => (await redis.exists(`${jobKey}:lock`)) === 0, 10_000);

      // A job a worker took but never named: found by its lock token while this event loop is blocked.
      const activeKey = `${prefix}:{keeper-probe}:active`;
      keeper.watch({ owner: 'probe#1', activeKey, stalledKey, keyBase: `${prefix}:{keeper-probe}:`, tokenPrefix: 'probe-worker:' });
      await redis.lpush(activeKey, 'keeper-taken');
      await redis.set(`${prefix}:{keeper-probe}:keeper-taken:lock`, 'probe-worker:7', 'PX', 600);
      const until = Date.now() + 1800;
      while (Date.now() < until);
      expect(await redis.get(`${prefix}:{keeper-probe}:keeper-taken:lock`)).toBe('probe-worker:7');
    } finally {
      await keeper.close();
      await redis.del(jobKey, stalledKey, `${prefix}:{keeper-probe}:active`, `${prefix}:{keeper-probe}:keeper-taken:lock`);
    }
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

      // The DLQ through the API: a job failing for good is listed, replayed, and completes.
      const failing = await api(server, 'POST', '/api/v1/jobs', { type: 'test.flaky', payload: { failures: 1 }, retries: 0, queue: 'alpha' });
      expect(failing.status).toBe(202);
      await waitFor(async () => (await api(server, 'GET', `/api/v1/jobs/${failing.body.id}`)).body?.state === 'dlq', 30_000);
      const dlq = await api(server, 'GET', '/api/v1/dlq?queue=alpha&type=test.flaky');
      expect(dlq.status).toBe(200);
      const entry = dlq.body.entries.find((e: { jobId: string }) => e.jobId === failing.body.id);
      expect(entry).toMatchObject({ queue: 'alpha', type: 'test.flaky', reason: 'retries_exhausted' });

      const replay = await api(server, 'POST', `/api/v1/dlq/${encodeURIComponent(entry.id)}/replay`, { retries: 1 });
      expect(replay.status).toBe(202);
      const replayed = await waitFor(async () => {
        const res = await api(server, 'GET', `/api/v1/jobs/${replay.body.jobId}`);
        return res.body?.state === 'completed' ? res.body : undefined;
      }, 30_000);
      expect(replayed.result).toMatchObject({ attempt: 2 });
      expect((await api(server, 'GET', `/api/v1/dlq/${encodeURIComponent(entry.id)}`)).body.replays).toHaveLength(1);
    } finally {
      await server.stop();
      await worker.stop();
    }
  }, 240_000);
});
