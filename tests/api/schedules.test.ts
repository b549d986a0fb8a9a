import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { api, startServer, type TestServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/runtime.ts';

const FIXTURES = resolve(import.meta.dirname, '..', 'fixtures', 'plugins');

let server: TestServer;
beforeAll(async () => {
  server = await startServer({
    redisUrl: inject('redisUrl'),
    config: {
      plugins: { dirs: [FIXTURES] },
      scheduler: { tickMs: 200 },
      schedules: { configured: { cron: '0 3 * * *', timezone: 'Europe/Berlin', type: 'test.noop' } },
    },
  });
});
afterAll(async () => {
  await server?.stop();
});

describe('schedules API', () => {
  it('lists the configured schedules', async () => {
    const res = await api(server, 'GET', '/api/v1/schedules');

    expect(res.status).toBe(200);
    expect(res.body.schedules).toEqual([
      expect.objectContaining({ name: 'configured', source: 'config', version: 1, spec: expect.objectContaining({ cron: '0 3 * * *' }) }),
    ]);
    expect(res.body.schedules[0].nextRunAt).toBeGreaterThan(Date.now());
  });

  it('creates a schedule that produces jobs, then replaces and deletes it', async () => {
    const created = await api(server, 'PUT', '/api/v1/schedules/every-second', {
      everyMs: 1000,
      type: 'test.noop',
      payload: { n: 3 },
      options: { retries: 2 },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'every-second', version: 1, changed: true, source: 'api' });

    const ran = await waitFor(async () => {
      const res = await api(server, 'GET', '/api/v1/schedules/every-second');
      return res.body.state?.lastJobId ? res.body : undefined;
    });
    const job = await waitFor(async () => {
      const res = await api(server, 'GET', `/api/v1/jobs/${ran.state.lastJobId}`);
      return res.body.state === 'completed' ? res.body : undefined;
    });
    expect(job).toMatchObject({ type: 'test.noop', payload: { n: 3 }, submittedBy: 'schedule:every-second' });
    expect(job.options.retries).toBe(2);

    const replaced = await api(server, 'PUT', '/api/v1/schedules/every-second', { cron: '0 0 1 1 *', type: 'test.noop' });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ version: 2, changed: true });
    expect(replaced.body.state.lastJobId).toBeUndefined();

    const removed = await api(server, 'DELETE', '/api/v1/schedules/every-second');
    expect(removed.status).toBe(204);
    expect((await api(server, 'GET', '/api/v1/schedules/every-second')).status).toBe(404);
    expect((await api(server, 'DELETE', '/api/v1/schedules/every-second')).status).toBe(404);
  });

  it('audits every schedule write and removal with the key that made it, not the payload', async () => {
    await api(server, 'PUT', '/api/v1/schedules/audited', { everyMs: 60_000, type: 'test.noop', payload: { token: 'hush' } });
    await api(server, 'PUT', '/api/v1/schedules/audited', { cron: '0 4 * * *', timezone: 'Europe/Berlin', type: 'test.noop' });
    await api(server, 'DELETE', '/api/v1/schedules/audited');
    await api(server, 'DELETE', '/api/v1/schedules/audited');

    const res = await api(server, 'GET', '/api/v1/audit?action=schedule.');

    const entries = res.body.entries.filter((e: { target: string }) => e.target === 'audited');
    expect(entries.map((e: { action: string }) => e.action)).toEqual(['schedule.delete', 'schedule.put', 'schedule.put']);
    expect(entries[2]).toMatchObject({ actor: 'test-admin', details: { created: true, changed: true, version: 1, type: 'test.noop', everyMs: 60_000 } });
    expect(entries[1]).toMatchObject({ details: { created: false, changed: true, version: 2, cron: '0 4 * * *', timezone: 'Europe/Berlin' } });
    expect(JSON.stringify(entries)).not.toContain('hush');
  });

  it('shows the results of a scheduled health check', async () => {
    const put = await api(server, 'PUT', '/api/v1/schedules/health', { everyMs: 1000, type: 'health.check', payload: { redis: true } });
    expect(put.status).toBe(201);

    const results = await waitFor(async () => {
      const res = await api(server, 'GET', '/api/v1/health-checks');
      return res.status === 200 && res.body.latest ? res.body : undefined;
    });
    await api(server, 'DELETE', '/api/v1/schedules/health');

    expect(results.latest).toMatchObject({ ok: true, checks: [expect.objectContaining({ name: 'redis', kind: 'redis', ok: true })] });
    expect(results.history[0]).toEqual(results.latest);
  });

  it('refuses an invalid schedule naming the field', async () => {
    const res = await api(server, 'PUT', '/api/v1/schedules/broken', { cron: '* * * * *', timezone: 'Nowhere/City', type: 'test.noop' });

    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
    expect(res.body.error.details).toEqual([expect.objectContaining({ field: 'timezone' })]);
  });

  it('requires an API key', async () => {
    const res = await api(server, 'PUT', '/api/v1/schedules/x', { everyMs: 1000, type: 'test.noop' }, 'wrong-key-0123456789');

    expect(res.status).toBe(401);
  });
});
