/**
 * Throughput: N no-op jobs through TaskMaster's worker, a bare BullMQ Worker
 * and bee-queue, each with the same concurrency, on the same redis-server, in
 * one run. Jobs are stored first, then the workers start; the clock runs from the
 * first start to the last completion. Prints both rates and their ratio as
 * the last line (JSON).
 *
 *   npm run bench:throughput -- [--jobs 20000] [--concurrency 50]
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import BeeQueue from 'bee-queue';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { loadConfig } from '../src/config/index.ts';
import { createLogger, startRuntime } from '../src/engine/index.ts';
import { machine, ratio, startBenchRedis } from './lib.ts';

const { values } = parseArgs({
  options: { jobs: { type: 'string', default: '20000' }, concurrency: { type: 'string', default: '50' } },
});
const JOBS = Number(values.jobs);
const CONCURRENCY = Number(values.concurrency);
const BATCH = 1000;

async function taskmaster(url: string): Promise<number> {
  const config = loadConfig(
    {},
    {
      redis: { url, prefix: 'bench-tm', allowEviction: true },
      queues: { default: { concurrency: CONCURRENCY } },
      plugins: { builtins: false, dirs: [resolve(import.meta.dirname, 'plugins')] },
      log: { level: 'silent' },
    },
  );
  const producer = await startRuntime({ config, workers: false, log: createLogger('silent') });
  for (let i = 0; i < JOBS; i += BATCH) {
    const jobs = Array.from({ length: Math.min(BATCH, JOBS - i) }, (_, k) => ({ type: 'bench.noop', payload: { i: i + k } }));
    await producer.producer.submitBulk(jobs);
  }
  await producer.stop();

  let done = 0;
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  const started = Date.now();
  const runtime = await startRuntime({ config, workers: true, log: createLogger('silent') });
  runtime.events.on('attempt.ended', () => {
    if (++done === JOBS) finish();
  });
  await finished;
  const seconds = (Date.now() - started) / 1000;
  await runtime.stop();
  return JOBS / seconds;
}

async function bareBullmq(url: string): Promise<number> {
  const connection = new Redis(url, { maxRetriesPerRequest: null });
  const queue = new Queue('bare', { connection, prefix: 'bench-bull' });
  for (let i = 0; i < JOBS; i += BATCH) {
    const jobs = Array.from({ length: Math.min(BATCH, JOBS - i) }, (_, k) => ({
      name: 'noop',
      data: { i: i + k },
      opts: { removeOnComplete: { age: 86_400, count: 10_000 }, priority: Number(process.env.BENCH_BULL_PRIORITY ?? 0) },
    }));
    await queue.addBulk(jobs);
  }

  let done = 0;
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  const started = Date.now();
  const workerConnection = new Redis(url, { maxRetriesPerRequest: null });
  const worker = new Worker('bare', async () => undefined, {
    connection: workerConnection,
    prefix: 'bench-bull',
    concurrency: CONCURRENCY,
  });
  worker.on('completed', () => {
    if (++done === JOBS) finish();
  });
  await finished;
  const seconds = (Date.now() - started) / 1000;
  await worker.close();
  await queue.close();
  workerConnection.disconnect();
  connection.disconnect();
  return JOBS / seconds;
}

async function beeQueue(url: string): Promise<number> {
  const settings = { redis: { url }, prefix: 'bench-bee', removeOnSuccess: true, getEvents: false, sendEvents: false };
  const producer = new BeeQueue('bare', { ...settings, isWorker: false });
  for (let i = 0; i < JOBS; i += BATCH) {
    const jobs = Array.from({ length: Math.min(BATCH, JOBS - i) }, (_, k) => producer.createJob({ i: i + k }));
    await producer.saveAll(jobs);
  }
  await producer.close();

  let done = 0;
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  const started = Date.now();
  const worker = new BeeQueue('bare', settings);
  worker.on('succeeded', () => {
    if (++done === JOBS) finish();
  });
  worker.process(CONCURRENCY, async () => undefined);
  await finished;
  const seconds = (Date.now() - started) / 1000;
  await worker.close();
  return JOBS / seconds;
}

const redis = await startBenchRedis();
try {
  process.stderr.write(`machine: ${machine()}\n${JOBS} no-op jobs, concurrency ${CONCURRENCY}\n`);
  const bullmq = await bareBullmq(redis.url);
  process.stderr.write(`bare BullMQ: ${Math.round(bullmq)} jobs/s\n`);
  const bee = await beeQueue(redis.url);
  process.stderr.write(`bee-queue:   ${Math.round(bee)} jobs/s\n`);
  const tm = await taskmaster(redis.url);
  process.stderr.write(`TaskMaster:  ${Math.round(tm)} jobs/s\n`);
  process.stdout.write(
    `${JSON.stringify({
      benchmark: 'throughput',
      jobs: JOBS,
      concurrency: CONCURRENCY,
      bullmqPerSec: Math.round(bullmq),
      beeQueuePerSec: Math.round(bee),
      taskmasterPerSec: Math.round(tm),
      ratio: ratio(tm, bullmq),
      ratioToBeeQueue: ratio(tm, bee),
    })}\n`,
  );
} finally {
  await redis.stop();
}
