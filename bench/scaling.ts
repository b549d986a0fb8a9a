/**
 * Scaling with worker processes: a backlog of N no-op jobs is stored, then
 * K real `taskmaster worker` processes (K = 1, 2, 4) drain it. The queue is
 * paused until all K have reported in, so start-up is not timed; the clock
 * runs from the resume until the last job completes. Each K gets its own key
 * prefix on one redis-server. Last line JSON with jobs/s per K.
 *
 *   npm run bench:scaling -- [--jobs 10000] [--processes 1,2,4]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/index.ts';
import { createLogger, startRuntime } from '../src/engine/index.ts';
import { liveWorkers } from '../src/engine/heartbeat.ts';
import { machine, ratio, startBenchRedis } from './lib.ts';

const { values } = parseArgs({
  options: { jobs: { type: 'string', default: '10000' }, processes: { type: 'string', default: '1,2,4' } },
});
const JOBS = Number(values.jobs);
const COUNTS = values.processes.split(',').map(Number);
const ROOT = resolve(import.meta.dirname, '..');

function settings(url: string, prefix: string) {
  return {
    redis: { url, prefix, allowEviction: true },
    queues: { default: { concurrency: 50 } },
    retention: { completedCount: JOBS * 2 },
    plugins: { builtins: false, dirs: [resolve(import.meta.dirname, 'plugins')] },
    log: { level: 'warn' as const },
  };
}

async function run(url: string, processes: number): Promise<number> {
  const prefix = `bench-scale-${processes}`;
  const config = loadConfig({}, settings(url, prefix));
  const producer = await startRuntime({ config, workers: false, log: createLogger('silent') });
  for (let i = 0; i < JOBS; i += 1000) {
    await producer.producer.submitBulk(Array.from({ length: Math.min(1000, JOBS - i) }, (_, k) => ({ type: 'bench.noop', payload: { i: i + k } })));
  }
  const queue = producer.producer['queues'].get('default');
  await queue.pause();

  const dir = mkdtempSync(join(tmpdir(), 'tm-bench-scale-'));
  const configFile = join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify({ ...settings(url, prefix), dataDir: join(dir, 'data') }));
  const children: ChildProcess[] = Array.from({ length: processes }, () =>
    spawn(process.execPath, [join(ROOT, 'bin', 'taskmaster.mjs'), 'worker'], {
      cwd: ROOT,
      env: { ...process.env, TASKMASTER_CONFIG: configFile },
      stdio: 'ignore',
    }),
  );
  try {
    while ((await liveWorkers(producer.redis, producer.keys)).length < processes) await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    await queue.resume();
    while ((await queue.getCompletedCount()) < JOBS) await new Promise((r) => setTimeout(r, 100));
    return JOBS / ((Date.now() - started) / 1000);
  } finally {
    await Promise.all(children.map((c) => new Promise((r) => (c.once('exit', r), c.kill('SIGTERM')))));
    await producer.stop();
  }
}

const redis = await startBenchRedis();
try {
  process.stderr.write(`machine: ${machine()}\n${JOBS} no-op jobs, concurrency 50 per process, processes ${COUNTS.join(', ')}\n`);
  const perSec: Record<string, number> = {};
  for (const k of COUNTS) {
    perSec[k] = Math.round(await run(redis.url, k));
    process.stderr.write(`${k} process(es): ${perSec[k]} jobs/s \n`);
  }
  const speedup = Object.fromEntries(COUNTS.map((k) => [k, ratio(perSec[k], perSec[COUNTS[0]])]));
  process.stdout.write(`${JSON.stringify({ benchmark: 'scaling', jobs: JOBS, perSec, speedup })}\n`);
} finally {
  await redis.stop();
}
