import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { TaskMasterClient, TaskMasterError } from '../../src/client/index.ts';
import { ADMIN_KEY, api, startServer, type TestServer } from '../helpers/server.ts';

const FIXTURES = resolve(import.meta.dirname, '..', 'fixtures', 'plugins');
const READ_KEY = 'test-read-key-0123456789ab';

let server: TestServer;

// An API-only server: no worker takes the jobs, so they stay waiting.
beforeAll(async () => {
  server = await startServer({
    role: 'api',
    waitFor: 'healthy',
    redisUrl: inject('redisUrl'),
    config: {
      plugins: { dirs: [FIXTURES] },
      queues: { default: {}, realtime: { types: ['test.sleep'] }, bulk: { concurrency: 2 } },
      api: {
        keys: [
          { name: 'admin', key: ADMIN_KEY, scopes: ['admin'] },
          { name: 'viewer', key: READ_KEY, scopes: ['read'] },
        ],
      },
    },
  });
});

afterAll(async () => {
  await server?.stop();
});

describe('PATCH /api/v1/jobs/:id', () => {
  it('changes a waiting job priority, audits it and records it in its timeline', async () => {
    const submitted = await api(server, 'POST', '/api/v1/jobs', { type: 'test.noop', payload: {}, priority: 'low' });

    const res = await api(server, 'PATCH', `/api/v1/jobs/${submitted.body.id}`, { priority: 'critical' });

    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id: submitted.body.id, from: 'low', priority: 'critical', state: 'waiting' });
    const job = await api(server, 'GET', `/api/v1/jobs/${submitted.body.id}`);
    expect(job.body.options.priority).toBe('critical');
    const timeline = await api(server, 'GET', `/api/v1/jobs/${submitted.body.id}/history`);
    const changed = timeline.body.timeline.find((e: { kind: string }) => e.kind === 'priority.changed');
    expect(changed).toMatchObject({ by: 'admin', message: 'priority changed from low to critical' });
    const audit = await api(server, 'GET', `/api/v1/audit?action=job.priority&jobId=${submitted.body.id}`);
    expect(audit.body.entries).toEqual([expect.objectContaining({ actor: 'admin', details: { from: 'low', to: 'critical' } })]);
  });

  it('changes a delayed job priority through the client', async () => {
    const client = new TaskMasterClient({ baseUrl: server.url, apiKey: ADMIN_KEY });
    const { id } = await client.submit({ type: 'test.noop', payload: {}, delayMs: 60_000 });

    const result = await client.changePriority(id, 'high');

    expect(result).toMatchObject({ id, from: 'normal', priority: 'high', state: 'delayed' });
    expect((await client.getJob(id)).options.priority).toBe('high');
  });

  it('answers 409 for a job that ended and 404 for an unknown one', async () => {
    const submitted = await api(server, 'POST', '/api/v1/jobs', { type: 'test.noop', payload: {} });
    await api(server, 'POST', `/api/v1/jobs/${submitted.body.id}/cancel`);

    const ended = await api(server, 'PATCH', `/api/v1/jobs/${submitted.body.id}`, { priority: 'high' });
    const unknown = await api(server, 'PATCH', '/api/v1/jobs/default.nothing', { priority: 'high' });

    expect(ended.status).toBe(409);
    expect(ended.body.error.details).toMatchObject({ state: 'cancelled' });
    expect(unknown.status).toBe(404);
  });

  it('answers 400 naming the field for a bad priority, 403 without admin scope', async () => {
    const submitted = await api(server, 'POST', '/api/v1/jobs', { type: 'test.noop', payload: {} });

    const bad = await api(server, 'PATCH', `/api/v1/jobs/${submitted.body.id}`, { priority: 'urgent' });
    const viewer = await api(server, 'PATCH', `/api/v1/jobs/${submitted.body.id}`, { priority: 'high' }, READ_KEY);

    expect(bad.status).toBe(400);
    expect(bad.body.error.details).toEqual([expect.objectContaining({ field: 'priority' })]);
    expect(viewer.status).toBe(403);
    await expect(
      new TaskMasterClient({ baseUrl: server.url, apiKey: READ_KEY }).changePriority(submitted.body.id, 'high'),
    ).rejects.toBeInstanceOf(TaskMasterError);
  });
});

describe('queues', () => {
  it('GET /api/v1/queues lists waiting jobs per class and top tenants, counts and weights', async () => {
    for (const [priority, tenant] of [['high', 'acme'], ['high', 'acme'], ['low', 'globex']]) {
      await api(server, 'POST', '/api/v1/jobs', { type: 'test.noop', payload: {}, priority, tenant, queue: 'bulk' });
    }
    await api(server, 'POST', '/api/v1/jobs', { type: 'test.sleep', payload: { ms: 1 } });

    const res = await api(server, 'GET', '/api/v1/queues', undefined, READ_KEY);

    expect(res.status).toBe(200);
    const bulk = res.body.queues.find((q: { name: string }) => q.name === 'bulk');
    expect(bulk).toMatchObject({
      fair: true,
      weights: { critical: 8, high: 4, normal: 2, low: 1 },
      waiting: 3,
      waitingByPriority: { critical: 0, high: 2, normal: 0, low: 1 },
      topTenants: [{ tenant: 'acme', waiting: 2 }, { tenant: 'globex', waiting: 1 }],
      active: 0,
      delayed: 0,
      completed: 0,
      failed: 0,
    });
    const client = new TaskMasterClient({ baseUrl: server.url, apiKey: READ_KEY });
    expect((await client.queues()).map((q) => q.name).sort()).toEqual(['bulk', 'default', 'realtime']);
  });

  it('routes job types to queues by configuration, and refuses unknown queues naming the field', async () => {
    const routed = await api(server, 'POST', '/api/v1/jobs', { type: 'test.sleep', payload: { ms: 1 } });
    const named = await api(server, 'POST', '/api/v1/jobs', { type: 'test.sleep', payload: { ms: 1 }, queue: 'default' });
    const unknown = await api(server, 'POST', '/api/v1/jobs', { type: 'test.noop', payload: {}, queue: 'mars' });

    expect(routed.body.queue).toBe('realtime');
    expect(named.body.queue).toBe('default');
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.details).toEqual([{ field: 'queue', message: 'unknown queue mars' }]);
  });
});
