import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runJob, startDataEnv, type DataTestEnv } from './setup.ts';

let env: DataTestEnv;
beforeAll(async () => {
  env = await startDataEnv();
  await env.db.pool.query('CREATE TABLE orders (id integer PRIMARY KEY, note text, amount numeric, placed_at timestamptz)');
  await env.db.pool.query(
    `INSERT INTO orders SELECT n, CASE WHEN n = 2 THEN 'has "quotes", and comma' ELSE 'note ' || n END, n * 1.5,
       timestamptz '2026-01-01T00:00:00Z' + n * interval '1 minute' FROM generate_series(1, 2500) n`,
  );
});
afterAll(async () => {
  await env?.stop();
});

const query = 'SELECT id, note, amount, placed_at FROM orders WHERE id <= $1 ORDER BY id';

describe('data.export', () => {
  it('streams rows to CSV with quoting', async () => {
    const job = await runJob(env.runtime, 'data.export', { database: 'main', query, params: [2500], format: 'csv', file: 'orders.csv', batchSize: 100 });

    expect(job.state).toBe('completed');
    expect(job.result).toMatchObject({ rows: 2500, format: 'csv' });
    const lines = readFileSync(join(env.files, 'orders.csv'), 'utf8').trimEnd().split('\r\n');
    expect(lines).toHaveLength(2501);
    expect(lines[0]).toBe('id,note,amount,placed_at');
    expect(lines[1]).toBe('1,note 1,1.5,2026-01-01T00:01:00.000Z');
    expect(lines[2]).toBe('2,"has ""quotes"", and comma",3.0,2026-01-01T00:02:00.000Z');
  });

  it('streams rows to NDJSON', async () => {
    const job = await runJob(env.runtime, 'data.export', { database: 'main', query, params: [10], format: 'ndjson', file: 'orders.ndjson' });

    expect(job.state).toBe('completed');
    const rows = readFileSync(join(env.files, 'orders.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(rows).toHaveLength(10);
    expect(rows[9]).toEqual({ id: 10, note: 'note 10', amount: '15.0', placed_at: '2026-01-01T00:10:00.000Z' });
  });

  it('streams rows to an .xlsx workbook', async () => {
    const job = await runJob(env.runtime, 'data.export', { database: 'main', query, params: [300], format: 'xlsx', file: 'orders.xlsx' });

    expect(job.state).toBe('completed');
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.readFile(join(env.files, 'orders.xlsx'));
    const sheet = workbook.getWorksheet('export')!;
    expect(sheet.rowCount).toBe(301);
    expect(sheet.getRow(1).values).toEqual([undefined, 'id', 'note', 'amount', 'placed_at']);
    expect(sheet.getRow(301).getCell(1).value).toBe(300);
    expect(sheet.getRow(301).getCell(2).value).toBe('note 300');
  });

  it('refuses a query that writes', async () => {
    const job = await runJob(env.runtime, 'data.export', {
      database: 'main',
      query: 'DELETE FROM orders RETURNING id',
      format: 'csv',
      file: 'nope.csv',
    });

    expect(job.state).toBe('dlq');
    expect(job.attempts).toHaveLength(1);
    expect(job.attempts[0].error).toMatchObject({ name: 'PermanentError', message: expect.stringMatching(/read-only transaction/) });
    const { rows } = await env.db.pool.query('SELECT count(*)::int AS n FROM orders');
    expect(rows[0].n).toBe(2500);
  });
});
