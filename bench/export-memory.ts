/**
 * Export memory: the rows of one query written to CSV by TaskMaster's
 * streaming path (`ctx.db(...).stream`, a server-side cursor) and by the
 * plain way (`query` loads every row, then the file is written), each in a
 * child process of its own so the peaks do not mix. Prints the peak heap and
 * RSS of both and their ratio as the last line (JSON).
 *
 * Needs PostgreSQL on 127.0.0.1:5432 (trust auth, user postgres); creates and
 * drops a database of its own.
 *
 *   npm run bench:export -- [--rows 300000]
 */
import { execFileSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { Databases } from '../src/engine/services/databases.ts';
import { machine, ratio } from './lib.ts';

const { values } = parseArgs({
  options: { rows: { type: 'string', default: '300000' }, child: { type: 'string' }, url: { type: 'string' } },
});
const QUERY = 'SELECT n AS id, md5(n::text) AS note, n * 1.5 AS amount, now() AS at FROM big ORDER BY n';

if (values.child) {
  process.stdout.write(JSON.stringify(await exportOnce(values.child as 'stream' | 'load', values.url!)));
} else {
  await main();
}

async function main(): Promise<void> {
  const admin = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `tm_bench_${Date.now().toString(36)}`;
  const client = new pg.Client(admin);
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  const url = admin.replace(/\/[^/]*$/, `/${name}`);
  try {
    const db = new pg.Client(url);
    await db.connect();
    await db.query(`CREATE TABLE big AS SELECT n FROM generate_series(1, ${Number(values.rows)}) n`);
    await db.end();

    const run = (mode: string) =>
      JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', import.meta.filename, '--child', mode, '--url', url], { encoding: 'utf8' }));
    const streamed = run('stream');
    const loaded = run('load');
    console.log(`machine: ${machine()}`);
    console.log(`TaskMaster (cursor stream): ${streamed.rows} rows, peak heap ${mb(streamed.peakHeap)} MB, peak RSS ${mb(streamed.peakRss)} MB, ${streamed.ms} ms`);
    console.log(`baseline (load all, write): ${loaded.rows} rows, peak heap ${mb(loaded.peakHeap)} MB, peak RSS ${mb(loaded.peakRss)} MB, ${loaded.ms} ms`);
    console.log(JSON.stringify({ rows: streamed.rows, streamed, loaded, heapRatio: ratio(loaded.peakHeap, streamed.peakHeap) }));
  } finally {
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await client.end();
  }
}

async function exportOnce(mode: 'stream' | 'load', url: string) {
  let peakHeap = 0;
  let peakRss = 0;
  const sample = () => {
    const m = process.memoryUsage();
    peakHeap = Math.max(peakHeap, m.heapUsed);
    peakRss = Math.max(peakRss, m.rss);
  };
  const timer = setInterval(sample, 5);
  const databases = new Databases({ bench: { url, maxConnections: 2, statementTimeoutMs: 0 } });
  const db = databases.get('bench');
  const out = createWriteStream(join(tmpdir(), `tm-bench-export-${mode}.csv`));
  const write = async (row: Record<string, unknown>) => {
    if (!out.write(Object.values(row).join(',') + '\n')) await once(out, 'drain');
  };
  const started = performance.now();
  let rows = 0;

  if (mode === 'stream') {
    for await (const row of db.stream(QUERY, [], { batchSize: 1000, readOnly: true })) {
      await write(row);
      rows++;
    }
  } else {
    const result = await db.query(QUERY);
    sample();
    for (const row of result.rows) {
      await write(row);
      rows++;
    }
  }
  out.end();
  await once(out, 'finish');
  sample();
  clearInterval(timer);
  await databases.close();
  return { rows, peakHeap, peakRss, ms: Math.round(performance.now() - started) };
}

function mb(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}
