import { createServer, type Server } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runJob, startDataEnv, type DataTestEnv } from './setup.ts';

let env: DataTestEnv;
beforeAll(async () => {
  env = await startDataEnv();
});
afterAll(async () => {
  await env?.stop();
});

const columns = {
  id: { type: 'integer', required: true },
  email: { type: 'text', required: true, pattern: '^[^@]+@[^@]+$' },
  score: { type: 'number' },
  active: { type: 'boolean' },
};

async function table(name: string) {
  await env.db.pool.query(`CREATE TABLE ${name} (id integer, email text, score double precision, active boolean)`);
}

describe('data.import', () => {
  it('imports a CSV file in batches and reports bad rows with examples', async () => {
    await table('people_csv');
    const csv = [
      'id,email,score,active',
      '1,a@example.test,1.5,true',
      '2,b@example.test,,false',
      'x3,c@example.test,2,true',
      '4,"d@example.test",3,yes',
      '5,no-at-sign,4,true',
      '6,f@example.test,5,0',
      ',g@example.test,6,1',
    ].join('\n');
    writeFileSync(join(env.files, 'people.csv'), csv);

    const job = await runJob(env.runtime, 'data.import', {
      database: 'main',
      table: 'people_csv',
      source: { path: 'people.csv' },
      format: 'csv',
      columns,
      batchSize: 2,
    });

    expect(job.state).toBe('completed');
    expect(job.result).toMatchObject({ rowsRead: 7, rowsWritten: 4, badRows: 3, resumedFrom: 0 });
    const examples = (job.result as { badExamples: { row: number; errors: string[] }[] }).badExamples;
    expect(examples.map((e) => e.row)).toEqual([3, 5, 7]);
    expect(examples[0].errors[0]).toMatch(/^id: not an integer/);
    expect(examples[2].errors).toEqual(['id: required']);
    const { rows } = await env.db.pool.query('SELECT id, email, score, active FROM people_csv ORDER BY id');
    expect(rows).toEqual([
      { id: 1, email: 'a@example.test', score: 1.5, active: true },
      { id: 2, email: 'b@example.test', score: null, active: false },
      { id: 4, email: 'd@example.test', score: 3, active: true },
      { id: 6, email: 'f@example.test', score: 5, active: false },
    ]);
  });

  it('fails for good when bad rows pass the limit', async () => {
    await table('people_bad');
    writeFileSync(join(env.files, 'bad.ndjson'), ['{"id":1,"email":"a@x"}', 'not json', '{"id":"q","email":"b@x"}', '{"id":4,"email":"c@x"}'].join('\n'));

    const job = await runJob(env.runtime, 'data.import', {
      database: 'main',
      table: 'people_bad',
      source: { path: 'bad.ndjson' },
      format: 'ndjson',
      columns,
      maxBadRows: 1,
    });

    expect(job.state).toBe('dlq');
    expect(job.attempts).toHaveLength(1);
    expect(job.attempts[0].error?.name).toBe('PermanentError');
    expect(job.attempts[0].error?.message).toMatch(/more than 1 bad rows/);
  });

  it('refuses a path outside the configured folder', async () => {
    const job = await runJob(env.runtime, 'data.import', {
      database: 'main',
      table: 'people_csv',
      source: { path: '../../etc/passwd' },
      format: 'csv',
      columns,
    });

    expect(job.state).toBe('dlq');
    expect(job.attempts[0].error?.message).toMatch(/outside the configured folder/);
  });

  it('resumes after the last committed batch when the source breaks off', async () => {
    await table('people_url');
    const lines = Array.from({ length: 50 }, (_, i) => JSON.stringify({ id: i + 1, email: `p${i + 1}@example.test` }));
    let requests = 0;
    const server: Server = createServer((req, res) => {
      requests++;
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      if (requests === 1) {
        // The first answer breaks off after 25 complete lines.
        res.write(lines.slice(0, 25).join('\n') + '\n', () => setTimeout(() => res.socket?.destroy(), 50));
        return;
      }
      res.end(lines.join('\n'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/people.ndjson`;

    try {
      const job = await runJob(
        env.runtime,
        'data.import',
        { database: 'main', table: 'people_url', source: { url }, format: 'ndjson', columns, batchSize: 10 },
        { retries: 2 },
      );

      expect(job.state).toBe('completed');
      expect(job.attempts.map((a) => a.outcome)).toEqual(['failed', 'completed']);
      expect(job.result).toMatchObject({ rowsRead: 50, rowsWritten: 50, badRows: 0, resumedFrom: 20 });
      const { rows } = await env.db.pool.query('SELECT count(*)::int AS n, count(DISTINCT id)::int AS d FROM people_url');
      expect(rows[0]).toEqual({ n: 50, d: 50 });
      expect(requests).toBe(2);
    } finally {
      server.close();
    }
  });
});
