import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../helpers/runtime.ts';
import { runJob, startDataEnv, type DataTestEnv } from '../data/setup.ts';
import { fakeServer, json, type FakeServer } from './http-fake.ts';

let env: DataTestEnv;
let firmo: FakeServer;
let social: FakeServer;
beforeAll(async () => {
  firmo = await fakeServer((req, res) => {
    if (req.url?.includes('nobody.test')) return json(res, 404, { error: 'unknown' });
    json(res, 200, { company: 'Acme GmbH', employees: 250 });
  });
  // The second provider fails its first call: only its step may run again.
  social = await fakeServer((_req, res, n) => (n === 1 ? json(res, 503, { error: 'busy' }) : json(res, 200, { handle: '@ada' })));
  env = await startDataEnv({
    settings: {
      integrations: {
        enrichment: {
          providers: {
            firmo: { url: `${firmo.url}/companies?domain={domain}` },
            social: { url: `${social.url}/people/{email}` },
          },
          rules: [
            { provider: 'firmo', field: 'employees', gte: 100, points: 40 },
            { provider: 'social', field: 'handle', points: 10 },
            { provider: 'firmo', field: 'company', equals: 'Nope', points: 1000 },
          ],
          database: 'main',
          table: 'leads',
        },
      },
    },
  });
});
afterAll(async () => {
  await env?.stop();
  await firmo?.close();
  await social?.close();
});

describe('lead enrichment flow', () => {
  it('normalises, looks up, scores and stores a lead; a failed lookup retries alone', async () => {
    const entry = await runJob(env.runtime, 'lead.enrich', { lead: { email: '  Ada@Example.TEST ', name: ' Ada   Lovelace ' } });
    expect(entry.state).toBe('completed');
    const { flowId } = entry.result as { flowId: string };

    const store = await waitFor(async () => {
      const job = await env.runtime.jobs.get(flowId);
      return job.state === 'completed' || job.state === 'failed' ? job : undefined;
    }, 30_000);

    expect(store.state).toBe('completed');
    expect(store.result).toEqual({ email: 'ada@example.test', score: 50, providers: ['firmo', 'social'] });
    expect(store.children).toEqual([expect.objectContaining({ type: 'lead.score', state: 'completed' })]);

    // Walk down the chain: score ← lookup social ← lookup firmo ← normalise.
    const chain = [];
    let job = store;
    while (job.children?.length) {
      job = await env.runtime.jobs.get(job.children[0].id);
      chain.push({ type: job.type, attempts: job.attempts.map((a) => a.outcome), parentId: job.parentId });
    }
    expect(chain.map((c) => c.type)).toEqual(['lead.score', 'lead.lookup', 'lead.lookup', 'lead.normalise']);
    expect(chain.map((c) => c.attempts)).toEqual([['completed'], ['failed', 'completed'], ['completed'], ['completed']]);
    expect(firmo.requests).toHaveLength(1);
    expect(firmo.requests[0].path).toBe('/companies?domain=example.test');
    expect(social.requests.map((r) => r.path)).toEqual(['/people/ada%40example.test', '/people/ada%40example.test']);

    const { rows } = await env.db.pool.query('SELECT email, name, domain, score, enrichment FROM leads');
    expect(rows).toEqual([
      {
        email: 'ada@example.test',
        name: 'Ada Lovelace',
        domain: 'example.test',
        score: 50,
        enrichment: { firmo: { company: 'Acme GmbH', employees: 250 }, social: { handle: '@ada' } },
      },
    ]);
  });

  it('fails the whole flow for good when the lead is not an e-mail address, every step moving to the DLQ', async () => {
    const entry = await runJob(env.runtime, 'lead.enrich', { lead: { email: 'not-an-address' }, providers: ['firmo'] });
    const { flowId } = entry.result as { flowId: string };

    const store = await waitFor(async () => {
      const job = await env.runtime.jobs.get(flowId);
      return job.state === 'dlq' ? job : undefined;
    }, 30_000);
    expect(store.attempts).toHaveLength(0);
    expect(store.reason).toBe('child_failed');
    expect(store.error).toMatch(/child/i);

    // Each step is in the DLQ once, linked to its parent; none is left in BullMQ's failed sets.
    const entries = await waitFor(async () => {
      const page = await env.runtime.dlq.list({});
      return page.entries.length >= 4 ? page.entries : undefined;
    });
    const byType = new Map(entries.map((e) => [e.type, e]));
    expect(entries.map((e) => e.type).sort()).toEqual(['lead.lookup', 'lead.normalise', 'lead.score', 'lead.store']);
    expect(byType.get('lead.normalise')).toMatchObject({ reason: 'invalid_email', parentId: byType.get('lead.lookup')!.jobId });
    expect(byType.get('lead.lookup')).toMatchObject({ reason: 'child_failed', parentId: byType.get('lead.score')!.jobId });
    expect(byType.get('lead.score')).toMatchObject({ reason: 'child_failed', parentId: flowId });
    expect(byType.get('lead.store')!.children).toEqual([expect.stringMatching(new RegExp(`:${byType.get('lead.score')!.jobId}$`))]);
    for (const queue of Object.keys(env.runtime.config.queues)) {
      expect(await env.runtime.redis.zcard(env.runtime.keys.bullKey(queue, 'failed')), queue).toBe(0);
    }
  });
});
