/**
 * HTTP submission: TaskMaster's `POST /api/v1/jobs` and `/api/v1/jobs/bulk`
 * (a real `taskmaster api` process: auth, validation, idempotency check)
 * against a bare `node:http` server calling `queue.add` / `addBulk`, both
 * under autocannon with the same connections and duration, on one
 * redis-server, in one run. Prints requests/s and p99 latency of each, and
 * the ratios, as the last line (JSON).
 *
 * Requests/s counts 2xx answers only; every other answer is counted apart,
 * by status code, with connection errors and timeouts. The bench's API key
 * has a submission rate limit of its own (`BENCH_RATE_LIMIT`), far above
 * what one machine submits: the default of 1,000 jobs/s per key would
 * answer 429 to most bulk requests (10 jobs each) and measure the limiter
 * instead of the submission path. The limit in force is printed.
 *
 *   npm run bench:http -- [--duration 10] [--connections 20] [--bulk 10]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { freePort } from '../src/redis/index.ts';
import { machine, ratio, startBenchRedis } from './lib.ts';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '20' },
    bulk: { type: 'string', default: '10' },
  },
});
const DURATION = Number(values.duration);
const CONNECTIONS = Number(values.connections);
const BULK = Number(values.bulk);
const ROOT = resolve(import.meta.dirname, '..');
const KEY = 'bench-admin-key-0123456789';
/** The bench key's own limit: well above this benchmark's rate, so a 429 would show a real problem. */
const BENCH_RATE_LIMIT = { perSecond: 1_000_000, burst: 10_000_000 };

interface LoadResult {
  /** 2xx answers per second. */
  rps: number;
  p99Ms: number;
  non2xx: number;
  /** Non-2xx answers by status code. */
  statuses: Record<string, number>;
  /** Connection errors and timeouts (no answer at all). */
  errors: number;
}

/** Starts a process and resolves once it prints `ready` (a line containing it). */
function startProcess(args: string[], env: Record<string, string>, ready: RegExp): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolvePromise, reject) => {
    const onData = (d: Buffer) => {
      output += d;
      if (ready.test(output)) resolvePromise(child);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`process exited (${code}):\n${output}`)));
  });
}

async function waitHttp(url: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await fetch(url).then((r) => r.ok, () => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer`);
}

async function load(url: string, body: unknown): Promise<LoadResult> {
  const result = await autocannon({
    url,
    method: 'POST',
    connections: CONNECTIONS,
    duration: DURATION,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
    body: JSON.stringify(body),
  });
  const statuses = Object.fromEntries(
    Object.entries(result.statusCodeStats ?? {})
      .filter(([code]) => !code.startsWith('2'))
      .map(([code, { count }]) => [code, count ?? 0]),
  );
  return {
    rps: Math.round(result['2xx'] / result.duration),
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    statuses,
    errors: result.errors + result.timeouts,
  };
}

function describe(name: string, r: LoadResult): string {
  const refused = r.non2xx ? ` (non-2xx ${r.non2xx}: ${Object.entries(r.statuses).map(([c, n]) => `${n} × ${c}`).join(', ')})` : '';
  const failed = r.errors ? `, ${r.errors} connection errors or timeouts` : '';
  return `${name}: ${r.rps} req/s (2xx), p99 ${r.p99Ms} ms${refused}${failed}\n`;
}

const redis = await startBenchRedis();
const children: ChildProcess[] = [];
try {
  process.stderr.write(`machine: ${machine()}\n${CONNECTIONS} connections, ${DURATION} s each, bulk of ${BULK}\n`);
  process.stderr.write(`TaskMaster bench key rate limit: ${BENCH_RATE_LIMIT.perSecond} jobs/s, burst ${BENCH_RATE_LIMIT.burst}\n`);

  // 1. TaskMaster's API process.
  const tmPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tm-bench-http-'));
  const configFile = join(dir, 'config.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      dataDir: join(dir, 'data'),
      redis: { url: redis.url, prefix: 'bench-http', allowEviction: true },
      api: { port: tmPort, keys: [{ name: 'bench', key: KEY, scopes: ['admin'], rateLimit: BENCH_RATE_LIMIT }], bulkLimit: 1000 },
      plugins: { builtins: false, dirs: [resolve(import.meta.dirname, 'plugins')] },
      log: { level: 'warn' },
    }),
  );
  children.push(await startProcess(['bin/taskmaster.mjs', 'api'], { TASKMASTER_CONFIG: configFile }, /Listening|listening/));
  const tmUrl = `http://127.0.0.1:${tmPort}`;
  await waitHttp(`${tmUrl}/healthz`);

  // 2. The bare baseline.
  const barePort = await freePort();
  children.push(
    await startProcess(['--import', 'tsx', 'bench/bare-http-server.ts'], { REDIS_URL: redis.url, PORT: String(barePort) }, /listening/),
  );
  const bareUrl = `http://127.0.0.1:${barePort}`;

  const one = { type: 'bench.noop', payload: { i: 1 } };
  const many = { jobs: Array.from({ length: BULK }, (_, i) => ({ type: 'bench.noop', payload: { i } })) };

  const bareSingle = await load(`${bareUrl}/jobs`, one);
  process.stderr.write(describe('bare single', bareSingle));
  const tmSingle = await load(`${tmUrl}/api/v1/jobs`, one);
  process.stderr.write(describe('TaskMaster single', tmSingle));
  const bareBulk = await load(`${bareUrl}/bulk`, many);
  process.stderr.write(describe('bare bulk', bareBulk));
  const tmBulk = await load(`${tmUrl}/api/v1/jobs/bulk`, many);
  process.stderr.write(describe('TaskMaster bulk', tmBulk));

  process.stdout.write(
    `${JSON.stringify({
      benchmark: 'http-submit',
      connections: CONNECTIONS,
      durationS: DURATION,
      bulk: BULK,
      rateLimit: BENCH_RATE_LIMIT,
      single: { taskmaster: tmSingle, bare: bareSingle, ratio: ratio(tmSingle.rps, bareSingle.rps) },
      bulkRequests: { taskmaster: tmBulk, bare: bareBulk, ratio: ratio(tmBulk.rps, bareBulk.rps) },
    })}\n`,
  );
} finally {
  for (const child of children) child.kill('SIGKILL');
  await redis.stop();
}
