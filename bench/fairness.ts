/**
 * Fair scheduling, in one run on one redis-server of its own:
 *
 * 1. shares: every class backlogged (`--per-class` no-op jobs each, stored
 *    first), one worker; the starts of each window of 1,000 split by class,
 *    against the weights 8:4:2:1; p50/p99 time in queue per class;
 * 2. tenants: 50,000 jobs of one tenant stored, then 10 of another, same
 *    class; how long the 10 wait and how many starts come before them;
 * 3. throughput: `--jobs` no-op jobs of mixed classes through TaskMaster with
 *    fair scheduling, TaskMaster with `fair: false` (BullMQ priorities) and a
 *    bare BullMQ Worker with the same priorities, same concurrency;
 * 4. wake after idle: a worker idle for 6 s (past BullMQ's 5 s drain delay,
 *    so it blocks on BullMQ's marker) gets one job; submit to start, 3 times.
 *
 * The last line is JSON with every figure.
 *
 *   npm run bench:fairness -- [--per-class 2500] [--whale 50000] [--jobs 20000] [--concurrency 50]
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { loadConfig, type ConfigInput } from '../src/config/index.ts';
import { bullPriority, PRIORITIES, type Priority } from '../src/core/index.ts';
import { createLogger, startRuntime, type Runtime } from '../src/engine/index.ts';
import { machine, ratio, startBenchRedis } from './lib.ts';

const { values } = parseArgs({
  options: {
    'per-class': { type: 'string', default: '2500' },
    whale: { type: 'string', default: '50000' },
    jobs: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '50' },
    'idle-rounds': { type: 'string', default: '3' },
  },
});
const PER_CLASS = Number(values['per-class']);
const WHALE = Number(values.whale);
const JOBS = Number(values.jobs);
const CONCURRENCY = Number(values.concurrency);
const IDLE_ROUNDS = Number(values['idle-rounds']);
const BATCH = 1000;
const WEIGHTS: Record<Priority, number> = { critical: 8, high: 4, normal: 2, low: 1 };

function configFor(url: string, prefix: string, queue: ConfigInput['queues'] extends Record<string, infer Q> | undefined ? Q : never) {
  return loadConfig(
    {},
    {
      redis: { url, prefix, allowEviction: true },
      queues: { default: queue },
      plugins: { builtins: false, dirs: [resolve(import.meta.dirname, 'plugins')] },
      log: { level: 'silent' },
    },
  );
}

async function store(runtime: Runtime, jobs: { priority: Priority; tenant?: string }[]): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < jobs.length; i += BATCH) {
    const batch = jobs.slice(i, i + BATCH).map((j, k) => ({ type: 'bench.noop', payload: { i: i + k }, ...j }));
    ids.push(...(await runtime.producer.submitBulk(batch)).map((s) => s.id));
  }
  return ids;
}

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : 0;
}

/** 1. Shares per window and time in queue per class, every class backlogged. */
async function shares(url: string) {
  const config = configFor(url, 'bench-fair-shares', { concurrency: CONCURRENCY });
  const producer = await startRuntime({ config, workers: false, log: createLogger('silent') });
  const jobs = Array.from({ length: PER_CLASS }, () => PRIORITIES.map((priority) => ({ priority }))).flat();
  const ids = await store(producer, jobs);
  const classOf = new Map(ids.map((id, i) => [id, jobs[i].priority]));
  await producer.stop();

  const starts: Priority[] = [];
  const waits: Record<Priority, number[]> = { critical: [], high: [], normal: [], low: [] };
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  const runtime = await startRuntime({ config, workers: true, log: createLogger('silent') });
  runtime.events.on('attempt.started', (e) => {
    const priority = classOf.get(e.jobId)!;
    starts.push(priority);
    waits[priority].push(e.waitMs);
    if (starts.length === ids.length) finish();
  });
  await finished;
  await runtime.stop();

  // Windows of 1,000 starts while every class still had work: until low's backlog would run out.
  const backlogged = Math.floor((PER_CLASS * 15) / 8 / 1000) * 1000;
  const windows: Record<Priority, number>[] = [];
  for (let from = 0; from + 1000 <= backlogged; from += 1000) {
    const window = starts.slice(from, from + 1000);
    windows.push(Object.fromEntries(PRIORITIES.map((p) => [p, window.filter((c) => c === p).length])) as Record<Priority, number>);
  }
  const worstDeviation = Math.max(
    ...windows.flatMap((w) => PRIORITIES.map((p) => Math.abs(w[p] / 1000 / (WEIGHTS[p] / 15) - 1))),
  );
  const timeInQueue = Object.fromEntries(
    PRIORITIES.map((p) => {
      const sorted = [...waits[p]].sort((a, b) => a - b);
      return [p, { p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99) }];
    }),
  );
  return { windows, worstDeviation: Math.round(worstDeviation * 1000) / 1000, timeInQueue };
}

/** 2. Ten jobs of one tenant behind the backlog of another. */
async function tenants(url: string) {
  const config = configFor(url, 'bench-fair-tenants', { concurrency: CONCURRENCY });
  const producer = await startRuntime({ config, workers: false, log: createLogger('silent') });
  await store(producer, Array.from({ length: WHALE }, () => ({ priority: 'normal' as Priority, tenant: 'whale' })));

  let started = 0;
  const delays: number[] = [];
  const startIndex: number[] = [];
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  const runtime = await startRuntime({ config, workers: true, log: createLogger('silent') });
  let submittedAt = 0;
  let minnows = new Set<string>();
  runtime.events.on('attempt.started', (e) => {
    started++;
    if (!minnows.has(e.jobId)) return;
    delays.push(Date.now() - submittedAt);
    startIndex.push(started);
    if (delays.length === 10) finish();
  });
  // The whale's jobs are flowing: now the small tenant submits.
  while (started < 1000) await new Promise((r) => setTimeout(r, 10));
  const startedBefore = started;
  submittedAt = Date.now();
  minnows = new Set(await store(producer, Array.from({ length: 10 }, () => ({ priority: 'normal' as Priority, tenant: 'minnow' }))));
  await finished;
  await runtime.stop();
  await producer.redis.eval("for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end", 0, 'bench-fair-tenants:*');
  await producer.stop();
  return {
    whaleBacklog: WHALE,
    minnowMaxDelayMs: Math.max(...delays),
    minnowP50DelayMs: percentile([...delays].sort((a, b) => a - b), 50),
    // Starts between the submission and the last of the ten, not counting the ten themselves.
    whaleStartsBeforeLastMinnow: Math.max(...startIndex) - startedBefore - 10,
  };
}

/** 4. Submit-to-start latency of one job sent to an idle fair queue. */
async function wakeAfterIdle(url: string): Promise<number[]> {
  const config = configFor(url, 'bench-fair-idle', { concurrency: CONCURRENCY });
  const runtime = await startRuntime({ config, workers: true, log: createLogger('silent') });
  const latencies: number[] = [];
  for (let i = 0; i < IDLE_ROUNDS; i++) {
    await new Promise((r) => setTimeout(r, 6000));
    const submittedAt = Date.now();
    let off = () => {};
    const started = new Promise<void>((r) => (off = runtime.events.on('attempt.started', () => r())));
    await runtime.producer.submit({ type: 'bench.noop', payload: { i } });
    await started;
    latencies.push(Date.now() - submittedAt);
    off();
  }
  await runtime.stop();
  return latencies;
}

/** 3. Throughput through a TaskMaster runtime. */
async function taskmaster(url: string, fair: boolean): Promise<number> {
  const config = configFor(url, `bench-fair-tm-${fair}`, { concurrency: CONCURRENCY, fair });
  const producer = await startRuntime({ config, workers: false, log: createLogger('silent') });
  await store(producer, Array.from({ length: JOBS }, (_, i) => ({ priority: PRIORITIES[i % 4] })));
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

/** 3. Throughput of a bare BullMQ Worker with the same priorities. */
async function bareBullmq(url: string): Promise<number> {
  const connection = new Redis(url, { maxRetriesPerRequest: null });
  const queue = new Queue('bare', { connection, prefix: 'bench-fair-bull' });
  for (let i = 0; i < JOBS; i += BATCH) {
    const jobs = Array.from({ length: Math.min(BATCH, JOBS - i) }, (_, k) => ({
      name: 'noop',
      data: { i: i + k },
      opts: { removeOnComplete: { age: 86_400, count: 10_000 }, priority: bullPriority(PRIORITIES[(i + k) % 4]) },
    }));
    await queue.addBulk(jobs);
  }
  let done = 0;
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  const started = Date.now();
  const workerConnection = new Redis(url, { maxRetriesPerRequest: null });
  const worker = new Worker('bare', async () => undefined, { connection: workerConnection, prefix: 'bench-fair-bull', concurrency: CONCURRENCY });
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

const redis = await startBenchRedis();
try {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  log(`machine: ${machine()}\nconcurrency ${CONCURRENCY}`);

  const share = await shares(redis.url);
  log(`\n1. shares, ${PER_CLASS} jobs per class, windows of 1,000 starts while all classes were backlogged`);
  log(`   weights 8:4:2:1 → expected ${PRIORITIES.map((p) => Math.round((WEIGHTS[p] / 15) * 1000)).join(' / ')} per 1,000`);
  share.windows.forEach((w, i) => log(`   window ${i + 1}: ${PRIORITIES.map((p) => `${p} ${w[p]}`).join(', ')}`));
  log(`   worst deviation from the weight share: ${Math.round(share.worstDeviation * 100)} %`);
  for (const p of PRIORITIES) log(`   time in queue ${p}: p50 ${share.timeInQueue[p].p50Ms} ms, p99 ${share.timeInQueue[p].p99Ms} ms`);

  const tenant = await tenants(redis.url);
  log(`\n2. tenants: 10 jobs of "minnow" submitted behind ${WHALE} of "whale"`);
  log(`   minnow waited p50 ${tenant.minnowP50DelayMs} ms, max ${tenant.minnowMaxDelayMs} ms; whale starts before its last job: ${tenant.whaleStartsBeforeLastMinnow}`);

  const bull = await bareBullmq(redis.url);
  const plain = await taskmaster(redis.url, false);
  const fair = await taskmaster(redis.url, true);
  log(`\n3. throughput, ${JOBS} no-op jobs of mixed classes`);
  log(`   bare BullMQ priorities:           ${Math.round(bull)} jobs/s`);
  log(`   TaskMaster, BullMQ priorities:    ${Math.round(plain)} jobs/s`);
  log(`   TaskMaster, fair scheduling:      ${Math.round(fair)} jobs/s`);
  log(`   fair ÷ TaskMaster priorities: ${ratio(fair, plain)}; fair ÷ bare BullMQ: ${ratio(fair, bull)}`);

  const idle = await wakeAfterIdle(redis.url);
  log(`\n4. one job sent to a fair queue idle for 6 s: started after ${idle.join(', ')} ms`);

  process.stdout.write(
    `${JSON.stringify({
      benchmark: 'fairness',
      concurrency: CONCURRENCY,
      shares: share,
      tenants: tenant,
      throughput: {
        jobs: JOBS,
        bullmqPerSec: Math.round(bull),
        taskmasterPrioritiesPerSec: Math.round(plain),
        taskmasterFairPerSec: Math.round(fair),
        ratioToTaskmasterPriorities: ratio(fair, plain),
        ratioToBullmq: ratio(fair, bull),
      },
      wakeAfterIdleMs: idle,
    })}\n`,
  );
} finally {
  await redis.stop();
}
