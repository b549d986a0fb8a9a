import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runJob, startDataEnv, type DataTestEnv } from './setup.ts';

let env: DataTestEnv;
beforeAll(async () => {
  env = await startDataEnv({ other: true });
});
afterAll(async () => {
  await env?.stop();
});

describe('data.sync', () => {
  const payload = {
    name: 'items-to-other',
    source: { database: 'main', table: 'items' },
    target: { database: 'other', table: 'items_copy' },
    key: 'id',
    cursor: 'updated_at',
    batchSize: 4,
  };
  const contents = async (pool: typeof env.db.pool, table: string) =>
    (await pool.query(`SELECT id, name, updated_at::text AS updated_at FROM ${table} ORDER BY id`)).rows;

  it('copies changed rows to another database and continues from its cursor', async () => {
    await env.db.pool.query('CREATE TABLE items (id integer PRIMARY KEY, name text, updated_at timestamptz NOT NULL)');
    await env.other!.pool.query('CREATE TABLE items_copy (id integer PRIMARY KEY, name text, updated_at timestamptz NOT NULL)');
    // Ties on updated_at and microsecond precision: both must survive the cursor.
    await env.db.pool.query(
      `INSERT INTO items SELECT n, 'item ' || n, timestamptz '2026-02-01T00:00:00Z' + (n / 3) * interval '1.000001 second'
       FROM generate_series(1, 11) n`,
    );

    const first = await runJob(env.runtime, 'data.sync', payload);
    const again = await runJob(env.runtime, 'data.sync', payload);
    await env.db.pool.query(`UPDATE items SET name = 'renamed', updated_at = timestamptz '2026-03-01T00:00:00.000007Z' WHERE id IN (2, 5)`);
    await env.db.pool.query(`INSERT INTO items VALUES (12, 'new', timestamptz '2026-03-01T00:00:00.000007Z')`);
    const third = await runJob(env.runtime, 'data.sync', payload);

    expect(first.result).toMatchObject({ copied: 11, batches: 3, from: null });
    expect(again.result).toMatchObject({ copied: 0 });
    expect(third.result).toMatchObject({ copied: 3, to: { value: '2026-03-01 00:00:00.000007+00', key: '5' } });
    expect(await contents(env.other!.pool, 'items_copy')).toEqual(await contents(env.db.pool, 'items'));
    const cursor = await env.other!.pool.query('SELECT rows_copied::int AS n FROM taskmaster_sync_cursors WHERE name = $1', [payload.name]);
    expect(cursor.rows[0].n).toBe(14);
  });
});

describe('db.maintenance', () => {
  it('deletes rows past the retention age in batches, vacuums, analyzes and logs each step', async () => {
    await env.db.pool.query('CREATE TABLE events (id serial PRIMARY KEY, created_at timestamptz NOT NULL)');
    await env.db.pool.query(`INSERT INTO events (created_at) SELECT now() - interval '10 days' FROM generate_series(1, 30)`);
    await env.db.pool.query(`INSERT INTO events (created_at) SELECT now() - interval '1 day' FROM generate_series(1, 5)`);

    const job = await runJob(env.runtime, 'db.maintenance', {
      database: 'main',
      retention: [{ table: 'events', column: 'created_at', olderThanMs: 7 * 24 * 3600_000, batchSize: 7 }],
      vacuum: ['events'],
      analyze: ['events'],
    });

    expect(job.state).toBe('completed');
    expect((job.result as { steps: unknown[] }).steps).toEqual([
      expect.objectContaining({ action: 'delete', table: 'events', rows: 30, batches: 5 }),
      expect.objectContaining({ action: 'vacuum', table: 'events' }),
      expect.objectContaining({ action: 'analyze', table: 'events' }),
    ]);
    expect((await env.db.pool.query('SELECT count(*)::int AS n FROM events')).rows[0].n).toBe(5);
    const log = await env.db.pool.query('SELECT action, target, rows::int FROM taskmaster_maintenance_log WHERE job_id = $1 ORDER BY id', [job.id]);
    expect(log.rows).toEqual([
      { action: 'delete', target: 'events', rows: 30 },
      { action: 'vacuum', target: 'events', rows: null },
      { action: 'analyze', target: 'events', rows: null },
    ]);
    const stats = await env.db.pool.query(`SELECT last_vacuum IS NOT NULL AS vacuumed FROM pg_stat_user_tables WHERE relname = 'events'`);
    expect(stats.rows[0].vacuumed).toBe(true);
  });
});

describe('cache.warm', () => {
  it('writes query results to cache keys with their TTLs', async () => {
    await env.db.pool.query('CREATE TABLE products (id integer, price numeric)');
    await env.db.pool.query('INSERT INTO products VALUES (1, 10), (2, 20), (3, 30)');

    const job = await runJob(env.runtime, 'cache.warm', {
      database: 'main',
      entries: [
        { key: 'products:top', query: 'SELECT id FROM products WHERE price >= $1 ORDER BY id', params: [20], ttlMs: 60_000 },
        { key: 'products:count', query: 'SELECT count(*)::int FROM products', ttlMs: 5_000, shape: 'value' },
      ],
    });

    expect(job.state).toBe('completed');
    const redis = env.runtime.redis;
    const prefix = env.runtime.keys.prefix;
    expect(JSON.parse((await redis.get(`${prefix}:cache:products:top`))!)).toEqual([{ id: 2 }, { id: 3 }]);
    expect(JSON.parse((await redis.get(`${prefix}:cache:products:count`))!)).toBe(3);
    const ttl = await redis.pttl(`${prefix}:cache:products:count`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(5_000);
  });
});
