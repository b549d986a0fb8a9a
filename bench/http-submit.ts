/**
 * HTTP submission: TaskMaster's `POST /api/v1/jobs` and `/api/v1/jobs/bulk`
 * (a real `taskmaster api` process: auth, validation, idempotency check)
 * against a bare `node:http` server calling `queue.add` / `addBulk`, both
 * under autocannon with the same connections and duration, on one
 * redis-server, in one run. Prints requests/s and p99 latency of each, and
 * the ratios, as the last line (JSON).
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

async function load(url: string, body: unknown): Promise<{ rps: number; p99Ms: number; non2xx: number }> {
  const result = await autocannon({
    url,
    method: 'POST',
    connections: CONNECTIONS,
    duration: DURATION,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
    body: JSON.stringify(body),
  });
  return { rps: Math.round(result.requests.average), p99Ms: result.latency.p99, non2xx: result.non2xx };
}

const redis = await startBenchRedis();
const children: ChildProcess[] = [];
try {
  process.stderr.write(`machine: ${machine()}\n${CONNECTIONS} connections, ${DURATION} s each, bulk of ${BULK}\n`);

  // 1. TaskMaster's API process.
  const tmPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tm-bench-http-'));
  const configFile = join(dir, 'config.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      dataDir: join(dir, 'data'),
      redis: { url: redis.url, prefix: 'bench-http', allowEviction: true },
      api: { port: tmPort, keys: [{ name: 'bench', key: KEY, scopes: ['admin'] }], bulkLimit: 1000 },
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
  process.stderr.write(`bare single: ${bareSingle.rps} req/s, p99 ${bareSingle.p99Ms} ms\n`);
  const tmSingle = await load(`${tmUrl}/api/v1/jobs`, one);
  process.stderr.write(`TaskMaster single: ${tmSingle.rps} req/s, p99 ${tmSingle.p99Ms} ms (${tmSingle.non2xx} non-2xx)\n`);
  const bareBulk = await load(`${bareUrl}/bulk`, many);
  process.stderr.write(`bare bulk: ${bareBulk.rps} req/s, p99 ${bareBulk.p99Ms} ms\n`);
  const tmBulk = await load(`${tmUrl}/api/v1/jobs/bulk`, many);
  process.stderr.write(`TaskMaster bulk: ${tmBulk.rps} req/s, p99 ${tmBulk.p99Ms} ms (${tmBulk.non2xx} non-2xx)\n`);

  process.stdout.write(
    `${JSON.stringify({
      benchmark: 'http-submit',
      connections: CONNECTIONS,
      durationS: DURATION,
      bulk: BULK,
      single: { taskmaster: tmSingle, bare: bareSingle, ratio: ratio(tmSingle.rps, bareSingle.rps) },
      bulkRequests: { taskmaster: tmBulk, bare: bareBulk, ratio: ratio(tmBulk.rps, bareBulk.rps) },
    })}\n`,
  );
} finally {
  for (const child of children) child.kill('SIGKILL');
  await redis.stop();
}
