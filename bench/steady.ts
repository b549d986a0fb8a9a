/**
 * A steady run: first the capacity of one TaskMaster process (workers and
 * producer in it) is measured by draining a backlog of no-op jobs; then jobs
 * are submitted at half of that rate for `--duration` seconds. Reports time in
 * queue (ready to started) p50/p99 at that load, and the process's RSS over
 * the run (first, last, highest, growth from the first minute's average to the
 * last minute's), as the last line (JSON).
 *
 *   npm run bench:steady -- [--duration 300] [--backlog 3000]
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/index.ts';
import { createLogger, startRuntime, type Runtime } from '../src/engine/index.ts';
import { machine, startBenchRedis } from './lib.ts';

const { values } = parseArgs({
  options: { duration: { type: 'string', default: '300' }, backlog: { type: 'string', default: '3000' } },
});
const DURATION_S = Number(values.duration);
const BACKLOG = Number(values.backlog);
const CONCURRENCY = 50;

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function storeBacklog(runtime: Runtime): Promise<void> {
  for (let i = 0; i < BACKLOG; i += 500) {
    const jobs = Array.from({ length: Math.min(500, BACKLOG - i) }, (_, k) => ({ type: 'bench.noop', payload: { i: i + k } }));
    await runtime.producer.submitBulk(jobs);
  }
}

const redis = await startBenchRedis();
try {
  const config = loadConfig(
    {},
    {
      redis: { url: redis.url, prefix: 'bench-steady', allowEviction: true },
      queues: { default: { concurrency: CONCURRENCY } },
      plugins: { builtins: false, dirs: [resolve(import.meta.dirname, 'plugins')] },
      log: { level: 'silent' },
    },
  );
  process.stderr.write(`machine: ${machine()}\nsteady run of ${DURATION_S} s\n`);

  // 1. Capacity: a backlog stored first, then drained by a fresh worker process.
  const loader = await startRuntime({ config, workers: false, log: createLogger('silent') });
  await storeBacklog(loader);
  await loader.stop();
  let drained = 0;
  let drainedAll!: () => void;
  const allDrained = new Promise<void>((r) => (drainedAll = r));
  const started = Date.now();
  const runtime = await startRuntime({ config, workers: true, log: createLogger('silent') });
  const offCapacity = runtime.events.on('attempt.ended', () => {
    if (++drained === BACKLOG) drainedAll();
  });
  await allDrained;
  offCapacity();
  const capacityPerSec = BACKLOG / ((Date.now() - started) / 1000);
  const rate = Math.max(1, Math.floor(capacityPerSec / 2));
  process.stderr.write(`capacity ${Math.round(capacityPerSec)} jobs/s; steady rate ${rate} jobs/s\n`);

  // 2. The steady run: submissions every 100 ms, time in queue from the worker's own events.
  const waits: number[] = [];
  runtime.events.on('attempt.started', (e) => waits.push(e.waitMs));
  const rss: { atS: number; mb: number }[] = [];
  const runStart = Date.now();
  const sampler = setInterval(() => rss.push({ atS: Math.round((Date.now() - runStart) / 1000), mb: process.memoryUsage().rss / 2 ** 20 }), 5000);
  let submitted = 0;
  while (Date.now() - runStart < DURATION_S * 1000) {
    const due = Math.floor(((Date.now() - runStart) / 1000) * rate);
    if (due > submitted) {
      const n = due - submitted;
      await runtime.producer.submitBulk(Array.from({ length: n }, (_, k) => ({ type: 'bench.noop', payload: { i: submitted + k } })));
      submitted += n;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  clearInterval(sampler);
  await new Promise((r) => setTimeout(r, 2000));
  await runtime.stop();

  const sorted = waits.sort((a, b) => a - b);
  const firstMinute = rss.filter((s) => s.atS <= Math.min(60, DURATION_S / 5));
  const lastMinute = rss.filter((s) => s.atS >= DURATION_S - Math.min(60, DURATION_S / 5));
  const avg = (xs: { mb: number }[]) => xs.reduce((a, s) => a + s.mb, 0) / Math.max(1, xs.length);
  const result = {
    benchmark: 'steady',
    durationS: DURATION_S,
    capacityPerSec: Math.round(capacityPerSec),
    ratePerSec: rate,
    submitted,
    started: waits.length,
    timeInQueueMs: { p50: percentile(sorted, 50), p99: percentile(sorted, 99) },
    rssMb: {
      first: Math.round(rss[0]?.mb ?? 0),
      last: Math.round(rss.at(-1)?.mb ?? 0),
      max: Math.round(Math.max(...rss.map((s) => s.mb))),
      growthPct: Math.round(((avg(lastMinute) - avg(firstMinute)) / avg(firstMinute)) * 1000) / 10,
    },
  };
  process.stderr.write(`time in queue p50 ${result.timeInQueueMs.p50} ms, p99 ${result.timeInQueueMs.p99} ms; RSS ${result.rssMb.first} -> ${result.rssMb.last} MiB\n`);
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await redis.stop();
}
