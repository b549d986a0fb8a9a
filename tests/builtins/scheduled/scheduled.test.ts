import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../helpers/runtime.ts';
import { runJob, startDataEnv, type DataTestEnv } from '../data/setup.ts';
import { fakeServer, json, type FakeServer } from '../integrations/http-fake.ts';

let env: DataTestEnv;
let site: FakeServer;
beforeAll(async () => {
  site = await fakeServer((req, res) => (req.url === '/healthz' ? json(res, 200, { ok: true }) : json(res, 500, { ok: false })));
  env = await startDataEnv({ config: { retention: { completedAgeMs: 1000, completedCount: 10_000, failedAgeMs: 1000 } } });
});
afterAll(async () => {
  await env?.stop();
  await site?.close();
});

describe('health.check', () => {
  it('checks HTTP endpoints, Redis and PostgreSQL and keeps the report', async () => {
    const job = await runJob(env.runtime, 'health.check', {
      http: [
        { name: 'site', url: `${site.url}/healthz` },
        { name: 'broken', url: `${site.url}/fails` },
        { name: 'refused', url: 'http://127.0.0.1:9/', timeoutMs: 2000 },
      ],
      databases: ['main', 'missing'],
    });

    expect(job.state).toBe('completed');
    const report = job.result as { ok: boolean; checks: { name: string; ok: boolean; status?: number; error?: string }[] };
    expect(report.ok).toBe(false);
    const byName = Object.fromEntries(report.checks.map((c) => [c.name, c]));
    expect(byName.site).toMatchObject({ kind: 'http', ok: true, status: 200 });
    expect(byName.broken).toMatchObject({ ok: false, status: 500 });
    expect(byName.refused.ok).toBe(false);
    expect(byName.redis).toMatchObject({ kind: 'redis', ok: true });
    expect(byName.main).toMatchObject({ kind: 'postgres', ok: true });
    expect(byName.missing).toMatchObject({ ok: false, error: expect.stringMatching(/no database named missing/) });

    const kv = env.runtime.services.kvOf('scheduled');
    expect(await kv.get('health:latest')).toEqual(report);
    expect(await kv.get('health:history')).toEqual([report]);
  });

  it('refuses an address the outbound guard does not allow', async () => {
    const job = await runJob(env.runtime, 'health.check', { http: [{ name: 'metadata', url: 'http://169.254.169.254/latest/meta-data/' }], redis: false });

    const report = job.result as { checks: { ok: boolean; error?: string }[] };
    expect(report.checks[0].ok).toBe(false);
    expect(report.checks[0].error).toMatch(/refus|not allowed|blocked/i);
  });
});

describe('taskmaster.cleanup', () => {
  it('removes finished jobs past their retention, honouring a job\'s own longer one', async () => {
    const rt = env.runtime;
    // Kept by its own retention (as a schedule gives its jobs) far longer than the configured 1 s.
    const kept = await rt.producer.submit({ type: 'health.check', payload: { redis: true } }, 'test', { retention: { completedAgeMs: 3600_000 } });
    const plain = await rt.producer.submit({ type: 'health.check', payload: { redis: true } });
    await waitFor(async () => (await Promise.all([kept.id, plain.id].map((id) => rt.jobs.get(id)))).every((j) => j.state === 'completed'));
    await new Promise((r) => setTimeout(r, 1200));

    const cleanup = await runJob(rt, 'taskmaster.cleanup', {});

    expect(cleanup.state).toBe('completed');
    const result = cleanup.result as { sweeps: { name: string; removed: number }[]; removed: number };
    expect(result.sweeps.map((s) => s.name)).toEqual(['completed-jobs', 'failed-jobs', 'report-files']);
    expect(result.sweeps[0].removed).toBeGreaterThanOrEqual(1);
    await expect(rt.jobs.get(plain.id)).rejects.toMatchObject({ name: 'NotFoundError' });
    // Neither the sweep nor the completions after it (BullMQ trims on completion) took the kept one.
    await runJob(rt, 'health.check', { redis: true });
    expect((await rt.jobs.get(kept.id)).state).toBe('completed');
  });

  it('removes a job past its own retention when that is shorter than the configured one', async () => {
    const rt = env.runtime;
    const brief = await rt.producer.submit({ type: 'health.check', payload: { redis: true } }, 'test', { retention: { completedAgeMs: 0 } });
    await waitFor(async () => (await rt.jobs.get(brief.id)).state === 'completed');

    await rt.sweepRetention();

    await expect(rt.jobs.get(brief.id)).rejects.toMatchObject({ name: 'NotFoundError' });
  });
});
