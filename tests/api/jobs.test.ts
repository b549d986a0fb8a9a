import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { ADMIN_KEY, api, startServer, type TestServer } from '../helpers/server.ts';

const FIXTURES = resolve(import.meta.dirname, '..', 'fixtures', 'plugins');
const SUBMIT_KEY = 'test-submit-key-0123456789';
const READ_KEY = 'test-read-key-0123456789ab';

let server: TestServer;

beforeAll(async () => {
  server = await startServer({
    redisUrl: inject('redisUrl'),
    config: {
      plugins: { dirs: [FIXTURES] },
      api: {
        payloadLimitBytes: 4096,
        bulkLimit: 5,
        keys: [
          { name: 'admin', key: ADMIN_KEY, scopes: ['admin'] },
          { name: 'producer', key: SUBMIT_KEY, scopes: ['submit'] },
          { name: 'viewer', key: READ_KEY, scopes: ['read'] },
        ],
      },
    },
  });
});

afterAll(async () => {
  await server?.stop();
});

describe('POST /api/v1/jobs', () => {
  it('stores a job and answers 202 with its id, type, queue and state', async () => {
    const res = await api(server, 'POST', '/api/v1/jobs', { type: 'test.noop', payload: { n: 1 } }, SUBMIT_KEY);

    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ type: 'test.noop', queue: 'default', state: 'waiting', duplicate: false });
    const job = await api(server, 'GET', `/api/v1/jobs/${res.body.id}`, undefined, READ_KEY);
    expect(job.status).toBe(200);
    expect(job.body.payload).toEqual({ n: 1 });
    expect(job.body.submittedBy).toBe('producer');
  });

  it('names every invalid field in a 400', async () => {
    const res = await api(server, 'POST', '/api/v1/jobs', {
      type: 'test.noop',
      payload: {},
      priority: 'urgent',
      retries: -1,
      delayMs: 'soon',
    });

    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
    const fields = res.body.error.details.map((d: { field: string }) => d.field).sort();
    expect(fields).toEqual(['delayMs', 'priority', 'retries']);
  });

  it('names bad options and bad payload fields in one answer', async () => {
    const res = await api(server, 'POST', '/api/v1/jobs', { type: 'test.flaky', payload: { failures: 'two' }, retries: -1 });

    expect(res.status).toBe(400);
    const fields = res.body.error.details.map((d: { field: string }) => d.field).sort();
    expect(fields).toEqual(['payload.failures', 'retries']);
  });

  it('names a missing payload once, beside other bad fields', async () => {
    const res = await api(server, 'POST', '/api/v1/jobs', { type: 'test.flaky', retries: -1 });

    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual([
      expect.objectContaining({ field: 'retries' }),
      { field: 'payload', message: 'is required' },
    ]);
  });

  it('names payload fields that fail the job type schema', async () => {
    const res = await api(server, 'POST', '/api/v1/jobs', { type: 'test.flaky', payload: { failures: 'two' } });

    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual([expect.objectContaining({ field: 'payload.failures' })]);
  });

  it('rejects an unknown job type, an unknown queue and unknown fields', async () => {
    const unknownType = await api(server, 'POST', '/api/v1/jobs', { type: 'nope.nothing', payload: {} });
    const unknownQueue = await api(server, 'POST', '/api/v1/jobs', { type: 'test.noop', payload: {}, queue: 'mars' });
    const extra = await api(server, 'POST', '/api/v1/jobs', { type: 'test.noop', payload: {}, colour: 'red' });

    expect(unknownType.status).toBe(400);
    expect(unknownType.body.error.details[0].field).toBe('type');
    expect(unknownQueue.body.error.details[0].field).toBe('queue');
    expect(extra.status).toBe(400);
  });

  it('answers 400 to malformed JSON and 415 to another content type', async () => {
    const malformed = await fetch(`${server.url}/api/v1/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: '{"type": ',
    });
    const wrongType = await fetch(`${server.url}/api/v1/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'text/plain' },
      body: 'hello',
    });

    expect(malformed.status).toBe(400);
    expect((await malformed.json()).error.code).toBe('invalid_json');
    expect(wrongType.status).toBe(415);
  });

  it('answers 413 above the payload limit, declared or streamed', async () => {
    const big = { type: 'test.noop', payload: { text: 'x'.repeat(5000) } };
    const declared = await api(server, 'POST', '/api/v1/jobs', big);
    const streamed = await fetch(`${server.url}/api/v1/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(JSON.stringify(big)));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);

    expect(declared.status).toBe(413);
    expect(declared.body.error.code).toBe('payload_too_large');
    expect(streamed.status).toBe(413);
  });
});

describe('idempotency keys', () => {
  it('returns the first job with 200 and duplicate: true, storing nothing new', async () => {
    const key = `order-${Date.now()}`;
    const first = await api(server, 'POST', '/api/v1/jobs', { type: 'test.noop', payload: { n: 1 }, idempotencyKey: key });
    const second = await api(server, 'POST', '/api/v1/jobs', { type: 'test.noop', payload: { n: 2 }, idempotencyKey: key });

    expect(first.status).toBe(202);
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ id: first.body.id, duplicate: true });
    const stored = await api(server, 'GET', `/api/v1/jobs/${first.body.id}`);
    expect(stored.body.payload).toEqual({ n: 1 });
  });

  it('follows the same rule in bulk, within one batch and against earlier jobs', async () => {
    const key = `bulk-${Date.now()}`;
    await api(server, 'POST', '/api/v1/jobs', { type: 'test.noop', payload: { n: 0 }, idempotencyKey: `${key}-a` });

    const res = await api(server, 'POST', '/api/v1/jobs/bulk', {
      jobs: [
        { type: 'test.noop', payload: { n: 1 }, idempotencyKey: `${key}-a` },
        { type: 'test.noop', payload: { n: 2 }, idempotencyKey: `${key}-b` },
        { type: 'test.noop', payload: { n: 3 }, idempotencyKey: `${key}-b` },
        { type: 'test.noop', payload: { n: 4 } },
      ],
    });

    expect(res.status).toBe(202);
    expect(res.body.jobs.map((j: { duplicate: boolean }) => j.duplicate)).toEqual([true, false, true, false]);
    expect(res.body.jobs[1].id).toBe(res.body.jobs[2].id);
    const a = await api(server, 'GET', `/api/v1/jobs/${res.body.jobs[0].id}`);
    const b = await api(server, 'GET', `/api/v1/jobs/${res.body.jobs[1].id}`);
    expect(a.body.payload).toEqual({ n: 0 });
    expect(b.body.payload).toEqual({ n: 2 });
  });
});

describe('POST /api/v1/jobs/bulk', () => {
  it('stores nothing when one job is invalid and names it by index', async () => {
    const marker = Date.now();
    const res = await api(server, 'POST', '/api/v1/jobs/bulk', {
      jobs: [
        { type: 'test.noop', payload: { n: marker }, idempotencyKey: `never-${marker}` },
        { type: 'test.flaky', payload: {} },
      ],
    });

    expect(res.status).toBe(400);
    expect(res.body.error.details[0].field).toBe('jobs.1.payload.failures');
    const retry = await api(server, 'POST', '/api/v1/jobs', { type: 'test.noop', payload: {}, idempotencyKey: `never-${marker}` });
    expect(retry.body.duplicate).toBe(false);
  });

  it('refuses more jobs than the bulk limit', async () => {
    const jobs = Array.from({ length: 6 }, () => ({ type: 'test.noop', payload: {} }));
    const res = await api(server, 'POST', '/api/v1/jobs/bulk', { jobs });

    expect(res.status).toBe(400);
    expect(res.body.error.details[0].field).toBe('jobs');
  });
});

describe('auth', () => {
  it('answers 401 without a key or with a wrong one', async () => {
    const none = await fetch(`${server.url}/api/v1/job-types`);
    const wrong = await api(server, 'GET', '/api/v1/job-types', undefined, 'not-a-real-key-000000000');

    expect(none.status).toBe(401);
    expect((await none.json()).error.code).toBe('unauthorized');
    expect(wrong.status).toBe(401);
  });

  it('answers 403 to a key without the scope', async () => {
    const readCannotSubmit = await api(server, 'POST', '/api/v1/jobs', { type: 'test.noop', payload: {} }, READ_KEY);
    const submitCannotRead = await api(server, 'GET', '/api/v1/job-types', undefined, SUBMIT_KEY);

    expect(readCannotSubmit.status).toBe(403);
    expect(readCannotSubmit.body.error.code).toBe('forbidden');
    expect(submitCannotRead.status).toBe(403);
  });
});

describe('GET routes', () => {
  it('lists job types with plugin, version and JSON Schema', async () => {
    const res = await api(server, 'GET', '/api/v1/job-types', undefined, READ_KEY);

    const flaky = res.body.jobTypes.find((t: { type: string }) => t.type === 'test.flaky');
    expect(flaky).toMatchObject({ plugin: 'testkit', version: '1.2.3' });
    expect(flaky.schema.properties.failures.type).toBe('integer');
    expect(res.body.jobTypes.some((t: { type: string }) => t.type === 'webhook.deliver')).toBe(true);
  });

  it('answers 404 in the error shape for an unknown job', async () => {
    const res = await api(server, 'GET', '/api/v1/jobs/default.doesnotexist');

    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { code: 'not_found', message: expect.any(String) } });
  });

  it('reports health and readiness', async () => {
    const health = await fetch(`${server.url}/healthz`);
    const ready = await fetch(`${server.url}/readyz`);

    expect(health.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { redis: true, workers: true } });
  });
});
