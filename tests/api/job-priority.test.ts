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
