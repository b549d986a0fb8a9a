/**
 * `npm run bench:dashboard [-- --jobs 1000000 --requests 100]`
 *
 * Fills a Redis of its own with a million jobs across states (and 24 hours of
 * metrics), starts TaskMaster's API process on it, and times the API calls
 * the dashboard makes: overview, job list, search and job page, printing
 * p50/p95 of each and the server's memory before and after. Beside them, the
 * baselines: a page read through BullMQ's own `Queue.getJobs` (what
 * bull-board uses) and a naive text search reading every job.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { freePort } from '../src/redis/index.ts';
import { startTestRedis } from '../tests/helpers/redis-server.ts';
import { tempDir } from '../tests/helpers/runtime.ts';
import { fillJobs, fillMetrics } from './dashboard-fill.ts';

const ROOT = resolve(import.meta.dirname, '..');
const KEY = 'bench-admin-key-0123456789';
const PREFIX = 'bench';

const { values } = parseArgs({ options: { jobs: { type: 'string', default: '1000000' }, requests: { type: 'string', default: '100' } } });
const JOBS = Number(values.jobs);
const REQUESTS = Number(values.requests);

async function main(): Promise<void> {
  // 1. A Redis and an API process of the bench's own.
  const redisServer = await startTestRedis(['--maxmemory-policy', 'noeviction']);
  const redis = new Redis(redisServer.url);
  const port = await freePort();
  const dir = tempDir('tm-bench-');
  const configFile = join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify({
    dataDir: join(dir, 'data'),
    redis: { url: redisServer.url, prefix: PREFIX },
    api: { port, keys: [{ name: 'bench', key: KEY, scopes: ['admin'] }] },
    plugins: { builtins: false },
    log: { level: 'warn' },
  }));
  const server = spawn(process.execPath, [join(ROOT, 'bin', 'taskmaster.mjs'), 'api'], {
    cwd: dir,
    env: { ...process.env, TASKMASTER_CONFIG: configFile },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;

  try {
    await until(() => fetch(`${url}/healthz`).then((r) => r.ok, () => false));
    await call(url, '/api/v1/metrics');
    const rssBefore = rssMb(server.pid!);

    // 2. A million jobs, written straight in BullMQ's layout.
    const started = Date.now();
    const filled = await fillJobs(redis, PREFIX, JOBS, (done) => {
      if (done % 100_000 === 0) process.stderr.write(`  filled ${done.toLocaleString('en')} jobs\n`);
    });
    await fillMetrics(redis, PREFIX);
    const fillSeconds = (Date.now() - started) / 1000;
    const memory = await redis.info('memory');
    const redisMb = Number(/used_memory:(\d+)/.exec(memory)?.[1] ?? 0) / 1e6;

    // 3. The dashboard's calls.
    const pick = <T>(list: T[]) => list[Math.floor(Math.random() * list.length)];
    const deep = (n: number) => String(Math.floor(Math.random() * n));
    const waiting = Math.floor(JOBS * 0.4);
    const completed = Math.floor(JOBS * 0.3);
    const cases: [string, () => string][] = [
      ['overview (last hour)', () => '/api/v1/metrics'],
      ['overview (24 hours)', () => '/api/v1/metrics?rangeMs=86400000'],
      ['list: waiting, first page', () => '/api/v1/jobs?queue=default&state=waiting'],
      ['list: waiting, deep page', () => `/api/v1/jobs?queue=default&state=waiting&cursor=${deep(waiting)}`],
      ['list: completed, deep page', () => `/api/v1/jobs?queue=default&state=completed&cursor=${deep(completed)}`],
      ['list: waiting, one priority, deep', () => `/api/v1/jobs?queue=default&state=waiting&priority=low&cursor=${deep(waiting / 4)}`],
      ['list: failed, one tenant', () => `/api/v1/jobs?queue=default&state=failed&tenant=acme&cursor=${deep(JOBS * 0.19)}`],
      ['search: payload text (bounded scan)', () => `/api/v1/jobs?queue=default&state=completed&q=rare-needle&cursor=${deep(completed)}`],
      ['search: job id', () => `/api/v1/jobs?id=${pick(filled.ids)}`],
      ['search: idempotency key', () => {
        const k = pick(filled.idempotencyKeys);
        return `/api/v1/jobs?idempotencyKey=${k.key}&tenant=${k.tenant}`;
      }],
      ['job page: preview', () => `/api/v1/jobs/${pick(filled.ids)}/preview`],
      ['job page: timeline', () => `/api/v1/jobs/${pick(filled.ids)}/history`],
    ];

    const rows: string[][] = [];
    for (const [name, path] of cases) {
      const times: number[] = [];
      for (let i = 0; i < REQUESTS; i++) times.push(await timed(() => call(url, path())));
      rows.push([name, ms(percentile(times, 0.5)), ms(percentile(times, 0.95))]);
    }
    const rssAfter = rssMb(server.pid!);

    // 4. Baselines, read straight from Redis in this process.
    const queue = new Queue('{default}', { connection: redis, prefix: PREFIX });
    const bullTimes: number[] = [];
    for (let i = 0; i < Math.min(REQUESTS, 20); i++) {
      const from = Number(deep(completed));
      bullTimes.push(await timed(() => queue.getJobs(['completed'], from, from + 49)));
    }
    const naiveSeconds = (await timed(() => naiveSearch(redis, 'rare-needle'))) / 1000;
    await queue.close();

    // 5. The report.
    const lines = [
      `jobs stored: ${JOBS.toLocaleString('en')} (filled in ${fillSeconds.toFixed(1)} s; Redis used_memory ${redisMb.toFixed(0)} MB); ${REQUESTS} requests per call, one at a time`,
      '',
      table(['API call', 'p50', 'p95'], rows),
      '',
      `server RSS: ${rssBefore.toFixed(0)} MB before the fill, ${rssAfter.toFixed(0)} MB after the calls`,
      '',
      'baselines:',
      `  BullMQ Queue.getJobs, completed page of 50 (no filters): p50 ${ms(percentile(bullTimes, 0.5))}, p95 ${ms(percentile(bullTimes, 0.95))}`,
      `  naive payload search reading every job: ${naiveSeconds.toFixed(1)} s per search`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    server.kill('SIGTERM');
    redis.disconnect();
    await redisServer.stop();
  }
}

async function call(url: string, path: string): Promise<void> {
  const response = await fetch(url + path, { headers: { authorization: `Bearer ${KEY}` } });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status} ${await response.text()}`);
  await response.arrayBuffer();
}

/** What a dashboard without a search design does: read every job's data. */
async function naiveSearch(redis: Redis, text: string): Promise<number> {
  let found = 0;
  for (const state of ['prioritized', 'delayed', 'completed', 'failed']) {
    const ids = await redis.zrange(`${PREFIX}:{default}:${state}`, 0, -1);
    for (let i = 0; i < ids.length; i += 5000) {
      const pipeline = redis.pipeline();
      for (const id of ids.slice(i, i + 5000)) pipeline.hget(`${PREFIX}:{default}:${id}`, 'data');
      for (const [, data] of (await pipeline.exec()) ?? []) if (String(data).includes(text)) found++;
    }
  }
  return found;
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

function ms(value: number): string {
  return `${value.toFixed(1)} ms`;
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

async function until(check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('the API process did not start');
    await new Promise((r) => setTimeout(r, 200));
  }
}

main().catch((err) => {
  process.stderr.write(`${err?.stack ?? err}\n`);
  process.exit(1);
});
