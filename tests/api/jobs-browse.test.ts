import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startDashboardServer } from '../helpers/dashboard.ts';
import { api, type TestServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/runtime.ts';

let server: TestServer;
beforeAll(async () => {
  // Workers are kept busy on one long job so submitted jobs stay waiting.
  server = await startDashboardServer(inject('redisUrl'), { queues: { default: { concurrency: 1 } } });
  await api(server, 'POST', '/api/v1/jobs', { type: 'test.sleep', payload: { ms: 20_000 }, priority: 'critical' });
  await waitFor(async () => (await api(server, 'GET', '/api/v1/jobs?queue=default&state=active')).body.jobs.length === 1);

  const jobs = Array.from({ length: 30 }, (_, i) => ({
    type: 'test.noop',
    payload: { n: i, note: i === 17 ? 'needle in the haystack' : 'hay' },
    priority: i % 3 === 0 ? 'high' : 'low',
    tenant: i % 2 ? 'acme' : 'globex',
    ...(i === 5 ? { idempotencyKey: 'order-5' } : {}),
  }));
  await api(server, 'POST', '/api/v1/jobs/bulk', { jobs });
});
afterAll(async () => {
  await server?.stop('SIGKILL');
});

const list = async (query: string) => {
  const response = await api(server, 'GET', `/api/v1/jobs?${query}`);
  expect(response.status).toBe(200);
  return response.body as { jobs: { id: string; priority: string; tenant: string; type: string }[]; next?: string; scanned: number };
};

describe('job list and search', () => {
  it('pages through waiting jobs with a cursor, each job once', async () => {
    const seen: string[] = [];
    let cursor = '';
    for (let i = 0; i < 10; i++) {
      const page = await list(`queue=default&state=waiting&limit=7${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.jobs.map((j) => j.id));
      if (!page.next) break;
      cursor = page.next;
    }
    expect(seen).toHaveLength(30);
    expect(new Set(seen).size).toBe(30);
  });

  it('lists waiting jobs of one priority class in the order they will run', async () => {
    const page = await list('queue=default&state=waiting&priority=high&limit=50');
    expect(page.jobs).toHaveLength(10);
    expect(page.jobs.every((j) => j.priority === 'high')).toBe(true);
  });

  it('filters by tenant and finds payload text', async () => {
    const acme = await list('queue=default&state=waiting&tenant=acme&limit=50');
    const needle = await list('queue=default&state=waiting&q=NEEDLE');

    expect(acme.jobs).toHaveLength(15);
    expect(needle.jobs).toHaveLength(1);
  });

  it('finds a job by id and by idempotency key', async () => {
    const [first] = (await list('queue=default&state=waiting&limit=1')).jobs;
    const byId = await list(`id=${encodeURIComponent(first.id)}`);
    const byKey = await list('idempotencyKey=order-5&tenant=acme');

    expect(byId.jobs.map((j) => j.id)).toEqual([first.id]);
    expect(byKey.jobs).toHaveLength(1);
  });

  it('names the field of a bad query', async () => {
    const response = await api(server, 'GET', '/api/v1/jobs?state=sleeping');
    expect(response.status).toBe(400);
    expect(response.body.error.details[0].field).toBe('state');
  });

  it('shows a job with a cut payload preview, a download and a timeline', async () => {
    const big = 'x'.repeat(40_000);
    const { body } = await api(server, 'POST', '/api/v1/jobs', { type: 'test.noop', payload: { big }, delayMs: 60_000 });

    const preview = await api(server, 'GET', `/api/v1/jobs/${body.id}/preview`);
    const download = await fetch(`${server.url}/api/v1/jobs/${body.id}/download?part=payload`, {
      headers: { authorization: `Bearer test-admin-key-0123456789` },
    });
    const history = await api(server, 'GET', `/api/v1/jobs/${body.id}/history`);

    expect(preview.body.payload.truncated).toBe(true);
    expect(preview.body.payload.text.length).toBeLessThan(20_000);
    expect(download.headers.get('content-disposition')).toContain('attachment');
    expect(JSON.parse(await download.text()).big).toBe(big);
    expect(history.body.timeline.map((e: { kind: string }) => e.kind)).toEqual(['submitted', 'delayed']);
    expect(history.body.timeline[0].by).toBe('test-admin');
  });
});
