/**
 * Redis memory per retained completed job: N no-op jobs run to completion
 * and kept (as retention keeps them) through TaskMaster and through a bare
 * BullMQ worker keeping completed jobs, on one redis-server. `used_memory`
 * before and after, divided by N. Last line JSON.
 *
 *   npm run bench:memory -- [--jobs 5000]
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { loadConfig } from '../src/config/index.ts';
import { createLogger, startRuntime } from '../src/engine/index.ts';
import { machine, ratio, startBenchRedis } from './lib.ts';

const { values } = parseArgs({ options: { jobs: { type: 'string', default: '5000' } } });
const JOBS = Number(values.jobs);

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

const redis = await startBenchRedis();
const probe = new Redis(redis.url);
try {
  process.stderr.write(`machine: ${machine()}\n${JOBS} completed jobs retained\n`);
  const bullmq = await bare(redis.url, probe);
  process.stderr.write(`bare BullMQ: ${Math.round(bullmq)} bytes per completed job\n`);
  const tm = await taskmaster(redis.url, probe);
  process.stderr.write(`TaskMaster:  ${Math.round(tm)} bytes per completed job\n`);
  process.stdout.write(
    `${JSON.stringify({ benchmark: 'memory', jobs: JOBS, bullmqBytesPerJob: Math.round(bullmq), taskmasterBytesPerJob: Math.round(tm), ratio: ratio(tm, bullmq) })}\n`,
  );
} finally {
  probe.disconnect();
  await redis.stop();
}
