import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ADMIN_KEY, api, startServer, type TestServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/runtime.ts';

const FIXTURES = resolve(import.meta.dirname, '..', 'fixtures', 'plugins');
const READ_KEY = 'test-read-key-promote-0123';

let server: TestServer;
beforeAll(async () => {
  server = await startServer({
    redisUrl: inject('redisUrl'),
    config: {
      api: {
        keys: [
          { name: 'test-admin', key: ADMIN_KEY, scopes: ['admin'] },
          { name: 'reader', key: READ_KEY, scopes: ['read'] },
        ],
      },
      plugins: { dirs: [FIXTURES], builtins: false },
      log: { level: 'warn' },
    },
  });
});
afterAll(async () => {
  await server?.stop();
});

async function submit(body: Record<string, unknown>): Promise<string> {
  const res = await api(server, 'POST', '/api/v1/jobs', body);
  expect(res.status).toBe(202);
  return res.body.id;
}

async function inState(id: string, state: string) {
  return waitFor(async () => {
    const { body } = await api(server, 'GET', `/api/v1/jobs/${id}`);
    return body?.state === state ? body : undefined;
  }, 20_000);
}

describe('POST /api/v1/jobs/:id/promote', () => {
  it('runs a delayed job now, and records who did it in the audit log and the timeline', async () => {
    const id = await submit({ type: 'test.noop', payload: { n: 1 }, delayMs: 3_600_000 });
    await inState(id, 'delayed');

    const res = await api(server, 'POST', `/api/v1/jobs/${id}/promote`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id, state: 'waiting' });
    expect(res.body.wasDueAt).toBeGreaterThan(Date.now() + 3_000_000);
    await inState(id, 'completed');

    const audit = await api(server, 'GET', `/api/v1/audit?jobId=${encodeURIComponent(id)}`);
    expect(audit.body.entries.map((e: any) => [e.action, e.actor])).toEqual([['job.promote', 'test-admin']]);
    const { body } = await api(server, 'GET', `/api/v1/jobs/${id}/history`);
    const kinds = body.timeline.map((e: any) => e.kind);
    expect(kinds).toEqual(['submitted', 'delayed', 'promoted', 'attempt.started', 'attempt.completed', 'completed']);
    expect(body.timeline[2].by).toBe('test-admin');
  });

  it('answers 409 for a job that is not delayed, and changes nothing', async () => {
    const running = await submit({ type: 'test.sleep', payload: { ms: 20_000 } });
    await inState(running, 'active');
    const done = await submit({ type: 'test.noop', payload: {} });
    const failed = await submit({ type: 'test.flaky', payload: { failures: 9, permanent: true } });
    await Promise.all([inState(done, 'completed'), inState(failed, 'dlq')]);

    const active = await api(server, 'POST', `/api/v1/jobs/${running}/promote`);
    const completed = await api(server, 'POST', `/api/v1/jobs/${done}/promote`);
    const dead = await api(server, 'POST', `/api/v1/jobs/${failed}/promote`);
    expect([active.status, active.body.error.code, active.body.error.details?.state]).toEqual([409, 'conflict', 'active']);
    expect([completed.status, completed.body.error.details?.state]).toEqual([409, 'completed']);
    expect([dead.status, dead.body.error.details?.state]).toEqual([409, 'dlq']);
    expect((await api(server, 'GET', `/api/v1/jobs/${running}`)).body.state).toBe('active');

    const audit = await api(server, 'GET', '/api/v1/audit?action=job.promote');
    expect(audit.body.entries.map((e: any) => e.jobId)).not.toContain(running);
    await api(server, 'POST', `/api/v1/jobs/${running}/cancel`);
  });

  it('refuses a read-only key (403) and an unknown job (404)', async () => {
    const id = await submit({ type: 'test.noop', payload: {}, delayMs: 3_600_000 });

    const read = await api(server, 'POST', `/api/v1/jobs/${id}/promote`, undefined, READ_KEY);
    const unknown = await api(server, 'POST', '/api/v1/jobs/default.nosuchjob/promote');
    expect([read.status, unknown.status]).toEqual([403, 404]);
    expect((await api(server, 'GET', `/api/v1/jobs/${id}`)).body.state).toBe('delayed');
  });
});
