import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ADMIN_KEY, api, startServer, type TestServer } from '../helpers/server.ts';

const FIXTURES = resolve(import.meta.dirname, '..', 'fixtures', 'plugins');
const READ_KEY = 'test-read-key-0123456789';

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
      plugins: { dirs: [FIXTURES] },
      defaults: { backoffMs: 10 },
      queues: { default: { concurrency: 10 }, mail: { concurrency: 5 } },
      log: { level: 'warn' },
    },
  });
}, 60_000);
afterAll(async () => {
  await server?.stop();
});

async function submit(body: Record<string, unknown>) {
  const res = await api(server, 'POST', '/api/v1/jobs', body);
  expect(res.status).toBe(202);
  return res.body.id as string;
}

async function state(id: string, wanted: string) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const res = await api(server, 'GET', `/api/v1/jobs/${id}`);
    if (res.body?.state === wanted) return res.body;
    if (Date.now() > deadline) throw new Error(`job ${id} never ${wanted}: ${JSON.stringify(res.body)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const inDlq = (id: string) => state(id, 'dlq');
const failing = (extra: Record<string, unknown> = {}) => ({ type: 'test.flaky', payload: { failures: 99 }, retries: 0, ...extra });

describe('DLQ routes', () => {
  it('filters by type, queue, tenant, error text and time range', async () => {
    const before = Date.now();
    const a = await submit(failing({ tenant: 'acme' }));
    const b = await submit(failing({ tenant: 'globex', queue: 'mail' }));
    const c = await submit({ type: 'test.flaky', payload: { failures: 9, permanent: true }, tenant: 'acme' });
    await Promise.all([a, b, c].map(inDlq));

    const ids = async (query: string) => (await api(server, 'GET', `/api/v1/dlq?${query}`)).body.entries.map((e: any) => e.jobId).sort();

    expect(await ids('tenant=acme')).toEqual([a, c].sort());
    expect(await ids('queue=mail')).toEqual([b]);
    expect(await ids('tenant=acme&error=PERMANENT%20failure')).toEqual([c]);
    expect(await ids(`from=${before}&type=test.flaky&tenant=globex`)).toEqual([b]);
    expect(await ids(`tenant=acme&to=${new Date(before - 1).toISOString()}`)).toEqual([]);
    const bad = await api(server, 'GET', '/api/v1/dlq?from=yesterday');
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].field).toBe('from');
  });

  it('pages through every entry once with a cursor', async () => {
    const tenant = `pager-${Date.now()}`;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await submit(failing({ tenant })));
    await Promise.all(ids.map(inDlq));

    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const res = await api(server, 'GET', `/api/v1/dlq?tenant=${tenant}&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      seen.push(...res.body.entries.map((e: any) => e.jobId));
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor);

    expect(pages).toBe(3);
    expect(seen.sort()).toEqual(ids.sort());
  });

  it('replays an entry with an edited payload once, and again only when asked', async () => {
    const id = await submit(failing());
    const job = await inDlq(id);

    const invalid = await api(server, 'POST', `/api/v1/dlq/${job.dlqEntryId}/replay`, { payload: { failures: 'no' } });
    const first = await api(server, 'POST', `/api/v1/dlq/${job.dlqEntryId}/replay`, { payload: { failures: 0 } });
    const second = await api(server, 'POST', `/api/v1/dlq/${job.dlqEntryId}/replay`);
    const third = await api(server, 'POST', `/api/v1/dlq/${job.dlqEntryId}/replay`, { again: true });

    expect(invalid.status).toBe(400);
    expect(invalid.body.error.details[0].field).toBe('payload.failures');
    expect(first.status).toBe(202);
    expect(second).toMatchObject({ status: 200, body: { jobId: first.body.jobId, duplicate: true } });
    expect(third.status).toBe(202);
    expect(third.body.jobId).not.toBe(first.body.jobId);
    const replayed = await state(first.body.jobId, 'completed');
    expect(replayed.replayOf).toBe(job.dlqEntryId);
    const entry = await api(server, 'GET', `/api/v1/dlq/${job.dlqEntryId}`);
    expect(entry.body.replays.map((r: any) => r.jobId)).toEqual([first.body.jobId, third.body.jobId]);
  });

  it('carries the job history into the entry and shows it in the entry and the job timeline', async () => {
    const id = await submit(failing({ delayMs: 1000 }));
    const changed = await api(server, 'PATCH', `/api/v1/jobs/${id}`, { priority: 'high' });
    expect(changed.status).toBe(200);
    const job = await inDlq(id);

    const entry = await api(server, 'GET', `/api/v1/dlq/${job.dlqEntryId}`);
    expect(entry.status).toBe(200);
    expect(entry.body.history).toEqual([
      expect.objectContaining({ kind: 'priority.changed', by: 'test-admin', details: { from: 'normal', to: 'high' } }),
    ]);
    const timeline = await api(server, 'GET', `/api/v1/jobs/${id}/history`);
    expect(timeline.body.timeline.filter((t: any) => t.kind === 'priority.changed')).toHaveLength(1);
  });

  it('replays everything matching a filter and counts it, skipping what was replayed', async () => {
    const tenant = `bulk-${Date.now()}`;
    const ids = [await submit(failing({ tenant })), await submit(failing({ tenant })), await submit(failing({ tenant }))];
    await Promise.all(ids.map(inDlq));

    const first = await api(server, 'POST', '/api/v1/dlq/replay', { filter: { tenant } });
    // The replays fail too and make entries of their own; only those are new.
    const replays = await api(server, 'GET', `/api/v1/dlq?tenant=${tenant}`);
    await Promise.all(replays.body.entries.flatMap((e: any) => e.replays.map((r: any) => inDlq(r.jobId))));
    const again = await api(server, 'POST', '/api/v1/dlq/replay', { filter: { tenant } });

    const unfiltered = await api(server, 'POST', '/api/v1/dlq/replay', {});
    expect(unfiltered.status).toBe(400);
    expect(unfiltered.body.error.details).toEqual([{ field: 'all', message: 'required without a filter' }]);
    expect(first.body).toEqual({ replayed: 3, skipped: 0 });
    expect(again.body).toEqual({ replayed: 3, skipped: 3 });
    const originals = (await api(server, 'GET', `/api/v1/dlq?tenant=${tenant}`)).body.entries.filter((e: any) => ids.includes(e.jobId));
    expect(originals.map((e: any) => e.replays.length)).toEqual([1, 1, 1]);
  });

  it('deletes one entry and purges by filter; purging everything needs all=true', async () => {
    const tenant = `purge-${Date.now()}`;
    const ids = [await submit(failing({ tenant })), await submit(failing({ tenant })), await submit(failing({ tenant }))];
    const jobs = await Promise.all(ids.map(inDlq));

    const deleted = await api(server, 'DELETE', `/api/v1/dlq/${jobs[0].dlqEntryId}`);
    const missing = await api(server, 'GET', `/api/v1/dlq/${jobs[0].dlqEntryId}`);
    const refused = await api(server, 'DELETE', '/api/v1/dlq');
    const purged = await api(server, 'DELETE', `/api/v1/dlq?tenant=${tenant}`);

    expect(deleted.status).toBe(204);
    expect(missing.status).toBe(404);
    expect(refused.status).toBe(400);
    expect(purged.body).toEqual({ purged: 2 });
    expect((await api(server, 'GET', `/api/v1/dlq?tenant=${tenant}`)).body.entries).toEqual([]);
  });

  it('retries a failed job from the DLQ, once', async () => {
    const id = await submit(failing());
    await inDlq(id);

    const first = await api(server, 'POST', `/api/v1/jobs/${id}/retry`);
    const second = await api(server, 'POST', `/api/v1/jobs/${id}/retry`);

    expect(first.status).toBe(202);
    expect(second).toMatchObject({ status: 200, body: { jobId: first.body.jobId, duplicate: true } });
    await inDlq(first.body.jobId);
  });

  it('cancels an active job: its signal fires and it ends cancelled', async () => {
    const id = await submit({ type: 'test.sleep', payload: { ms: 20_000 } });
    await state(id, 'active');

    const res = await api(server, 'POST', `/api/v1/jobs/${id}/cancel`);
    const job = await state(id, 'cancelled');
    const again = await api(server, 'POST', `/api/v1/jobs/${id}/cancel`);
    const retry = await api(server, 'POST', `/api/v1/jobs/${id}/retry`);

    expect(res).toMatchObject({ status: 202, body: { id, state: 'active' } });
    expect(job.attempts.at(-1).outcome).toBe('cancelled');
    expect(again.status).toBe(409);
    expect(retry).toMatchObject({ status: 409, body: { error: { details: { state: 'cancelled' } } } });
  });

  it('lets a read key look but not act', async () => {
    const id = await submit(failing());
    const job = await inDlq(id);

    const list = await api(server, 'GET', '/api/v1/dlq', undefined, READ_KEY);
    const show = await api(server, 'GET', `/api/v1/dlq/${job.dlqEntryId}`, undefined, READ_KEY);
    const replay = await api(server, 'POST', `/api/v1/dlq/${job.dlqEntryId}/replay`, undefined, READ_KEY);
    const cancel = await api(server, 'POST', `/api/v1/jobs/${id}/cancel`, undefined, READ_KEY);
    const purge = await api(server, 'DELETE', '/api/v1/dlq?all=true', undefined, READ_KEY);

    expect([list.status, show.status]).toEqual([200, 200]);
    expect([replay.status, cancel.status, purge.status]).toEqual([403, 403, 403]);
  });
});
