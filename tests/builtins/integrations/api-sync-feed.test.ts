import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runJob, startDataEnv, type DataTestEnv } from '../data/setup.ts';
import { QUICK_BREAKERS, rideOutOutage, startOutageGate } from '../outage.ts';
import { fakeServer, json } from './http-fake.ts';

let env: DataTestEnv;
beforeAll(async () => {
  env = await startDataEnv();
});
afterAll(async () => {
  await env?.stop();
});

const people = Array.from({ length: 7 }, (_, i) => ({ id: i + 1, name: `person ${i + 1}` }));

/** An API of three pages (cursor `p2`, `p3`); `onPage` may answer first. */
async function pagedApi(onPage: (cursor: string, n: number, res: import('node:http').ServerResponse) => boolean) {
  return fakeServer((req, res, n) => {
    const cursor = new URL(req.url!, 'http://x').searchParams.get('cursor') ?? 'p1';
    if (onPage(cursor, n, res)) return;
    const page = Number(cursor.slice(1));
    json(res, 200, { items: people.slice((page - 1) * 3, page * 3), next: page < 3 ? `p${page + 1}` : null });
  });
}

describe('api.sync', () => {
  it('pages through the API, waiting out a 429 with Retry-After', async () => {
    let limited = false;
    const api = await pagedApi((cursor, _n, res) => {
      if (cursor !== 'p2' || limited) return false;
      limited = true;
      json(res, 429, { error: 'slow down' }, { 'retry-after': '1' });
      return true;
    });
    try {
      const job = await runJob(env.runtime, 'api.sync', { name: 'people', url: `${api.url}/people`, database: 'main', table: 'people_api' });

      expect(job.state).toBe('completed');
      expect(job.result).toMatchObject({ pages: 3, items: 7, cursor: 'p3' });
      expect(api.requests.map((r) => r.path)).toEqual(['/people', '/people?cursor=p2', '/people?cursor=p2', '/people?cursor=p3']);
      expect(api.requests[2].at - api.requests[1].at).toBeGreaterThanOrEqual(950);
      const { rows } = await env.db.pool.query(`SELECT key, data->>'name' AS name FROM people_api ORDER BY key::int`);
      expect(rows.map((r) => r.key)).toEqual(['1', '2', '3', '4', '5', '6', '7']);
    } finally {
      await api.close();
    }
  });

  it('resumes from the last page written after a failed run', async () => {
    let broken = true;
    const api = await pagedApi((cursor, _n, res) => {
      if (cursor !== 'p3' || !broken) return false;
      json(res, 500, { error: 'down' });
      return true;
    });
    try {
      const failed = await runJob(env.runtime, 'api.sync', { name: 'resume', url: `${api.url}/people`, database: 'main', table: 'people_resume' }, { retries: 0 });
      broken = false;
      const resumed = await runJob(env.runtime, 'api.sync', { name: 'resume', url: `${api.url}/people`, database: 'main', table: 'people_resume' });

      expect(failed.state).toBe('dlq');
      expect(resumed.result).toMatchObject({ from: 'p3', pages: 1, items: 1 });
      expect(api.requests.map((r) => r.path)).toEqual(['/people', '/people?cursor=p2', '/people?cursor=p3', '/people?cursor=p3']);
      const { rows } = await env.db.pool.query('SELECT count(*)::int AS n FROM people_resume');
      expect(rows[0].n).toBe(7);
    } finally {
      await api.close();
    }
  });

  it('defers syncs behind the API host\'s open breaker, using no retry, and finishes each once it recovers', async () => {
    const api = await pagedApi(() => false);
    const gate = await startOutageGate(api.url);
    const own = await startDataEnv({ config: { breakers: QUICK_BREAKERS } });
    try {
      let n = 0;
      await rideOutOutage(own.runtime, gate, async (retries) => {
        const payload = { name: `outage-${n++}`, url: `${gate.url}/people`, database: 'main', table: 'people_outage' };
        return (await own.runtime.producer.submit({ type: 'api.sync', payload, retries })).id;
      });

      const { rows } = await own.db.pool.query('SELECT count(*)::int AS n FROM people_outage');
      expect(rows[0].n).toBe(7);
      // Five syncs of three pages each reached the API, none twice.
      expect(api.requests).toHaveLength(15);
    } finally {
      await own.stop();
      await gate.close();
      await api.close();
    }
  });

  it('keeps requests apart by minIntervalMs', async () => {
    const api = await pagedApi(() => false);
    try {
      const job = await runJob(env.runtime, 'api.sync', {
        name: 'paced',
        url: `${api.url}/people`,
        database: 'main',
        table: 'people_paced',
        minIntervalMs: 400,
      });

      expect(job.state).toBe('completed');
      const gaps = api.requests.slice(1).map((r, i) => r.at - api.requests[i].at);
      for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(400);
    } finally {
      await api.close();
    }
  });
});

describe('feed.ingest', () => {
  it('imports a feed, then skips it by ETag and by content hash, and imports a changed one', async () => {
    await env.db.pool.query('CREATE TABLE prices (sku text PRIMARY KEY, price numeric NOT NULL)');
    let body = 'sku,price\nA1,10.5\nB2,20\n';
    let sendEtag = true;
    const feed = await fakeServer((req, res) => {
      const etag = `"${body.length}"`;
      if (sendEtag && req.headers['if-none-match'] === etag) {
        res.writeHead(304);
        return res.end();
      }
      res.writeHead(200, { 'content-type': 'text/csv', ...(sendEtag ? { etag } : {}) });
      res.end(body);
    });
    const payload = {
      name: 'partner-prices',
      url: `${feed.url}/prices.csv`,
      format: 'csv',
      database: 'main',
      table: 'prices',
      key: ['sku'],
      columns: { sku: { type: 'text', required: true }, price: { type: 'number', required: true } },
    };
    try {
      const first = await runJob(env.runtime, 'feed.ingest', payload);
      const byEtag = await runJob(env.runtime, 'feed.ingest', payload);
      sendEtag = false;
      const byHash = await runJob(env.runtime, 'feed.ingest', payload);
      body = 'sku,price\nA1,11\nC3,5\n';
      const changed = await runJob(env.runtime, 'feed.ingest', payload);

      expect(first.result).toMatchObject({ imported: 2, badRows: 0 });
      expect(byEtag.result).toMatchObject({ skipped: 'not_modified' });
      expect(feed.requests[1].headers['if-none-match']).toBe('"24"');
      expect(byHash.result).toMatchObject({ skipped: 'unchanged' });
      expect(changed.result).toMatchObject({ imported: 2 });
      const { rows } = await env.db.pool.query('SELECT sku, price::float AS price FROM prices ORDER BY sku');
      expect(rows).toEqual([
        { sku: 'A1', price: 11 },
        { sku: 'B2', price: 20 },
        { sku: 'C3', price: 5 },
      ]);
    } finally {
      await feed.close();
    }
  });

  it('rejects a feed with bad rows whole', async () => {
    await env.db.pool.query('CREATE TABLE rates (code text PRIMARY KEY, rate numeric NOT NULL)');
    const feed = await fakeServer((_req, res) => json(res, 200, [{ code: 'EUR', rate: 1 }, { code: 'USD', rate: 'lots' }]));
    try {
      const job = await runJob(env.runtime, 'feed.ingest', {
        name: 'rates',
        url: `${feed.url}/rates.json`,
        format: 'json',
        database: 'main',
        table: 'rates',
        columns: { code: { type: 'text', required: true }, rate: { type: 'number', required: true } },
      });

      expect(job.state).toBe('dlq');
      expect(job.attempts).toHaveLength(1);
      expect(job.attempts[0].error?.message).toMatch(/1 bad rows.*rate: not a number/);
      expect((await env.db.pool.query('SELECT count(*)::int AS n FROM rates')).rows[0].n).toBe(0);
    } finally {
      await feed.close();
    }
  });
});
