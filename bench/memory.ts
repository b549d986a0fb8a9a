/**
 * Memory, in two parts, each on a redis-server of its own:
 *
 * 1. Redis memory per retained completed job: N no-op jobs run to completion
 *    and kept (as retention keeps them) through TaskMaster and through a bare
 *    BullMQ worker keeping completed jobs. `used_memory` before and after,
 *    divided by N.
 * 2. Node memory over a steady run: one TaskMaster process (producer and
 *    workers) takes `--rate` no-op jobs a second for `--duration` seconds
 *    (default 5 minutes). RSS and heap (after a full GC when run with
 *    `--expose-gc`, as the npm script does) are sampled every 10 s. Flat
 *    means: after the first fifth of the run (warm-up), the least-squares
 *    trends of RSS and of the heap each add up to less than 5 % of their
 *    mean over the rest of the run.
 *
 * Last line JSON, with every sample.
 *
 *   npm run bench:memory -- [--jobs 5000] [--duration 300] [--rate 100]
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { loadConfig } from '../src/config/index.ts';
import { createLogger, startRuntime } from '../src/engine/index.ts';
import { machine, ratio, startBenchRedis } from './lib.ts';

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '5000' },
    duration: { type: 'string', default: '300' },
    rate: { type: 'string', default: '100' },
  },
});
const JOBS = Number(values.jobs);
const DURATION_S = Number(values.duration);
const RATE = Number(values.rate);
const SAMPLE_MS = 10_000;
/** Growth over the measured part of the run below this share of its mean counts as flat. */
const FLAT_SHARE = 0.05;

async function usedMemory(redis: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
}

async function taskmaster(url: string, probe: Redis): Promise<number> {
  const config = loadConfig(
    {},
    {
      redis: { url, prefix: 'bench-mem-tm', allowEviction: true },
      queues: { default: { concurrency: 50 } },
      retention: { completedCount: JOBS * 2 },
      plugins: { builtins: false, dirs: [resolve(import.meta.dirname, 'plugins')] },
      log: { level: 'silent' },
    },
  );
  const runtime = await startRuntime({ config, workers: true, log: createLogger('silent') });
  const before = await usedMemory(probe);
  let done = 0;
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  runtime.events.on('attempt.ended', () => {
    if (++done === JOBS) finish();
  });
  for (let i = 0; i < JOBS; i += 500) {
    await runtime.producer.submitBulk(Array.from({ length: Math.min(500, JOBS - i) }, (_, k) => ({ type: 'bench.noop', payload: { i: i + k } })));
  }
  await finished;
  await new Promise((r) => setTimeout(r, 1000));
  const after = await usedMemory(probe);
  await runtime.stop();
  return (after - before) / JOBS;
}

async function bare(url: string, probe: Redis): Promise<number> {
  const connection = new Redis(url, { maxRetriesPerRequest: null });
  const queue = new Queue('bare', { connection, prefix: 'bench-mem-bull' });
  const workerConnection = new Redis(url, { maxRetriesPerRequest: null });
  const worker = new Worker('bare', async () => undefined, { connection: workerConnection, prefix: 'bench-mem-bull', concurrency: 50 });
  await worker.waitUntilReady();
  const before = await usedMemory(probe);
  let done = 0;
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  worker.on('completed', () => {
    if (++done === JOBS) finish();
  });
  for (let i = 0; i < JOBS; i += 500) {
    const jobs = Array.from({ length: Math.min(500, JOBS - i) }, (_, k) => ({ name: 'noop', data: { i: i + k }, opts: { removeOnComplete: { count: JOBS * 2 } } }));
    await queue.addBulk(jobs);
  }
  await finished;
  await new Promise((r) => setTimeout(r, 1000));
  const after = await usedMemory(probe);
  await worker.close();
  await queue.close();
  workerConnection.disconnect();
  connection.disconnect();
  return (after - before) / JOBS;
}

interface Sample {
  atS: number;
  rssMb: number;
  heapMb: number;
  completed: number;
}

const gc = (globalThis as { gc?: () => void }).gc;

/** Part 2: a steady rate for the whole run, with memory sampled as it goes. */
async function steadyRss(url: string): Promise<{ samples: Sample[]; submitted: number; completed: number }> {
  const config = loadConfig(
    {},
    {
      redis: { url, prefix: 'bench-mem-rss', allowEviction: true },
      queues: { default: { concurrency: 50 } },
      plugins: { builtins: false, dirs: [resolve(import.meta.dirname, 'plugins')] },
      log: { level: 'silent' },
    },
  );
  const runtime = await startRuntime({ config, workers: true, log: createLogger('silent') });
  let completed = 0;
  runtime.events.on('attempt.ended', () => completed++);

  const samples: Sample[] = [];
  const runStart = Date.now();
  const sample = () => {
    gc?.();
    const { rss, heapUsed } = process.memoryUsage();
    const s = { atS: Math.round((Date.now() - runStart) / 1000), rssMb: round1(rss / 2 ** 20), heapMb: round1(heapUsed / 2 ** 20), completed };
    samples.push(s);
    process.stderr.write(`  ${s.atS} s: RSS ${s.rssMb} MiB, heap ${s.heapMb} MiB, ${s.completed} jobs done\n`);
  };
  sample();
  const sampler = setInterval(sample, SAMPLE_MS);

  let submitted = 0;
  while (Date.now() - runStart < DURATION_S * 1000) {
    const due = Math.floor(((Date.now() - runStart) / 1000) * RATE);
    if (due > submitted) {
      const n = due - submitted;
      await runtime.producer.submitBulk(Array.from({ length: n }, (_, k) => ({ type: 'bench.noop', payload: { i: submitted + k } })));
      submitted += n;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  clearInterval(sampler);
  if (Date.now() - runStart - (samples.at(-1)!.atS * 1000) > SAMPLE_MS / 2) sample();
  await runtime.stop();
  return { samples, submitted, completed };
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

/** Least-squares slope of `y` over `atS`, per second. */
function slope(points: { atS: number; y: number }[]): number {
  const n = points.length;
  const mx = points.reduce((a, p) => a + p.atS, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  const num = points.reduce((a, p) => a + (p.atS - mx) * (p.y - my), 0);
  const den = points.reduce((a, p) => a + (p.atS - mx) ** 2, 0);
  return den ? num / den : 0;
}

/** The trend after warm-up, and whether it stays under `FLAT_SHARE` of the mean. */
function trend(samples: Sample[], field: 'rssMb' | 'heapMb') {
  const measured = samples.filter((s) => s.atS >= DURATION_S / 5);
  const points = measured.map((s) => ({ atS: s.atS, y: s[field] }));
  const span = (points.at(-1)?.atS ?? 0) - (points[0]?.atS ?? 0);
  const mean = points.reduce((a, p) => a + p.y, 0) / Math.max(1, points.length);
  const growthMb = slope(points) * span;
  return { fromS: points[0]?.atS ?? 0, growthMb: round1(growthMb), growthPct: round1((growthMb / mean) * 100), flat: growthMb < FLAT_SHARE * mean };
}

const redis = await startBenchRedis();
const probe = new Redis(redis.url);
let perJob: { bullmq: number; tm: number };
try {
  process.stderr.write(`machine: ${machine()}\n${JOBS} completed jobs retained\n`);
  const bullmq = await bare(redis.url, probe);
  process.stderr.write(`bare BullMQ: ${Math.round(bullmq)} bytes per completed job\n`);
  const tm = await taskmaster(redis.url, probe);
  process.stderr.write(`TaskMaster:  ${Math.round(tm)} bytes per completed job\n`);
  perJob = { bullmq, tm };
} finally {
  probe.disconnect();
  await redis.stop();
}

const rssRedis = await startBenchRedis();
try {
  process.stderr.write(`steady run: ${RATE} jobs/s for ${DURATION_S} s, samples every ${SAMPLE_MS / 1000} s${gc ? ', heap after full GC' : ' (no --expose-gc: heap not collected first)'}\n`);
  const run = await steadyRss(rssRedis.url);
  const rss = trend(run.samples, 'rssMb');
  const heap = trend(run.samples, 'heapMb');
  const flat = rss.flat && heap.flat;
  process.stderr.write(
    `RSS ${run.samples[0].rssMb} -> ${run.samples.at(-1)!.rssMb} MiB (trend after ${rss.fromS} s: ${rss.growthMb} MiB, ${rss.growthPct} %); ` +
      `heap ${heap.growthMb} MiB (${heap.growthPct} %); ${flat ? 'flat' : 'NOT flat'}\n`,
  );
  process.stdout.write(
    `${JSON.stringify({
      benchmark: 'memory',
      jobs: JOBS,
      bullmqBytesPerJob: Math.round(perJob.bullmq),
      taskmasterBytesPerJob: Math.round(perJob.tm),
      ratio: ratio(perJob.tm, perJob.bullmq),
      steady: {
        durationS: DURATION_S,
        ratePerSec: RATE,
        submitted: run.submitted,
        completed: run.completed,
        heapAfterGc: Boolean(gc),
        rss,
        heap,
        flat,
        flatRule: `RSS and heap${gc ? ' (after GC)' : ''} trends after the first fifth of the run each < ${FLAT_SHARE * 100} % of their mean`,
        samples: run.samples,
      },
    })}\n`,
  );
} finally {
  await rssRedis.stop();
}
