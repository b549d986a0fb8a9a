/**
 * `npm run bench:reload`: what a plugin swap costs under load, against the
 * way it is done without hot reload (stopping the worker and starting a new
 * one), side by side in one run.
 *
 * 1. Jobs are submitted at a steady rate (TARGET_RATE per second, in batches)
 *    to a runtime that only produces; a second runtime runs them.
 * 2. TaskMaster: after a warm-up the plugin's files change and the worker
 *    reloads; jobs/s before, during (the swap and the second after it) and
 *    after are counted from completions.
 * 3. Baseline: the same load, and the same change applied by restarting the
 *    worker runtime.
 * 4. Every submitted job must complete exactly once: failed and duplicated
 *    jobs are counted from the handler's own tally and the queue.
 * 5. Heap growth over 100 successive reloads of a changing plugin, after GC.
 *
 * Run with `--expose-gc` (the npm script does). Figures go to bench/README.md.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type ConfigInput } from '../src/config/index.ts';
import { createLogger, startRuntime, type Runtime } from '../src/engine/index.ts';
import { machine, startBenchRedis } from './lib.ts';

const TARGET_RATE = Number(process.env.BENCH_RATE ?? 1000);
const BATCH = 50;
const WARMUP_MS = 3000;
const AFTER_MS = 4000;
const DURING_MS = 1000;
const RELOADS = 100;

const runs = ((globalThis as any).__benchRuns ??= new Map<string, number>());
/** How long the load ran before jobs flowed, in the last phase measured. */
let warmupMs = 0;

function pluginSource(version: string, padding = ''): string {
  return `import { definePlugin, z } from 'taskmaster/sdk';
const runs = (globalThis as any).__benchRuns;
const padding = ${JSON.stringify(padding)};
export default definePlugin({
  name: 'bench',
  version: '${version}',
  jobs: {
    'bench.work': {
      schema: z.object({ n: z.number() }),
      handler: async (payload, ctx) => {
        runs.set(ctx.jobId, (runs.get(ctx.jobId) ?? 0) + 1);
        await new Promise((resolve) => setImmediate(resolve));
        return { v: '${version}', n: payload.n, size: padding.length };
      },
    },
  },
});
`;
}

interface PhaseResult {
  name: string;
  submitted: number;
  beforeRate: number;
  duringRate: number;
  afterRate: number;
  changeMs: number;
  /** Time from the load's start until jobs flowed. */
  warmupMs: number;
  failed: number;
  duplicated: number;
  lost: number;
}

async function main(): Promise<void> {
  const redis = await startBenchRedis();
  const pluginDir = tempDir('tm-bench-plugins-');
  mkdirSync(join(pluginDir, 'bench'), { recursive: true });
  const entry = join(pluginDir, 'bench', 'index.ts');
  const prefix = `bench-reload-${process.pid}`;
  const config = (extra: ConfigInput = {}) =>
    loadConfig({}, {
      dataDir: tempDir('tm-bench-data-'),
      redis: { url: redis.url, prefix, allowEviction: true },
      queues: { default: { concurrency: 100 } },
      plugins: { dirs: [pluginDir], builtins: false, watch: false },
      retention: { completedAgeMs: 3_600_000, completedCount: 1_000_000, failedAgeMs: 3_600_000 },
      log: { level: 'silent' },
      ...extra,
    });
  const start = (workers: boolean) => startRuntime({ config: config(), workers, log: createLogger('silent') });

  try {
    writeFileSync(entry, pluginSource('1.0.0'));
    const producer = await start(false);
    let worker = await start(true);

    // 2. TaskMaster: hot swap under load.
    const swap = await underLoad('hot swap (TaskMaster)', producer, () => worker, async () => {
      writeFileSync(entry, pluginSource('2.0.0'));
      const outcome = await worker.fleet!.reloadHere('bench');
      if (outcome.report?.loaded[0]?.version !== '2.0.0') throw new Error('the swap did not load 2.0.0');
    });

    // 3. Baseline: restart the worker to change the code.
    const restart = await underLoad('restart (baseline)', producer, () => worker, async () => {
      writeFileSync(entry, pluginSource('3.0.0'));
      await worker.stop();
      worker = await start(true);
    });

    // 5. Memory over successive reloads.
    const heap = await heapOverReloads(worker, entry);

    await worker.stop();
    await producer.stop();
    report([swap, restart], heap);
  } finally {
    await redis.stop();
  }
}

/**
 * Submits at TARGET_RATE for WARMUP_MS, applies `change`, goes on for
 * AFTER_MS, then waits for every job and counts.
 */
async function underLoad(name: string, producer: Runtime, worker: () => Runtime, change: () => Promise<void>): Promise<PhaseResult> {
  const ids: string[] = [];
  const completions: number[] = [];
  const listen = (rt: Runtime) =>
    rt.events.on('attempt.ended', (e) => {
      if (e.outcome === 'completed') completions.push(Date.now());
    });
  let unlisten = listen(worker());

  let submitting = true;
  let n = 0;
  const load = (async () => {
    const startedAt = Date.now();
    while (submitting) {
      const due = Math.floor(((Date.now() - startedAt) / 1000) * TARGET_RATE) - n;
      if (due < BATCH) {
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      const batch = Array.from({ length: BATCH }, () => ({ type: 'bench.work', payload: { n: n++ } }));
      const stored = await producer.producer.submitBulk(batch);
      ids.push(...stored.map((s) => s.id));
    }
  })();

  // A worker that has just started (or restarted) can sit idle for a few seconds under a
  // running load before it picks jobs up; "before" is measured once jobs flow.
  const flowing = Date.now();
  await waitFor(() => completions.filter((t) => t > Date.now() - 1000).length >= TARGET_RATE / 4, 30_000, 100);
  warmupMs = Date.now() - flowing;
  await sleep(WARMUP_MS);
  const changeStart = Date.now();
  const before = worker();
  await change();
  if (worker() !== before) {
    unlisten();
    unlisten = listen(worker());
  }
  const changeEnd = Date.now();
  await sleep(AFTER_MS);
  submitting = false;
  await load;

  // 4. Everything submitted must end, once.
  await waitFor(() => ids.every((id) => runs.has(id)), 120_000, 100);
  await sleep(500);
  unlisten();
  const counts = await queueCounts(producer);
  const duplicated = ids.filter((id) => (runs.get(id) ?? 0) > 1).length;
  const lost = ids.filter((id) => !runs.has(id)).length;

  if (process.env.BENCH_DEBUG) {
    const t0 = changeStart - WARMUP_MS - warmupMs;
    const buckets: number[] = [];
    for (const t of completions) buckets[Math.floor((t - t0) / 1000)] = (buckets[Math.floor((t - t0) / 1000)] ?? 0) + 1;
    process.stderr.write(`${name}: completions per second from the start: ${JSON.stringify(buckets)}; change at ${WARMUP_MS + warmupMs} ms\n`);
  }
  const rate = (from: number, to: number) => completions.filter((t) => t >= from && t < to).length / ((to - from) / 1000);
  const duringEnd = changeEnd + DURING_MS;
  return {
    name,
    submitted: ids.length,
    beforeRate: rate(changeStart - WARMUP_MS, changeStart),
    warmupMs,
    duringRate: rate(changeStart, duringEnd),
    afterRate: rate(duringEnd, changeEnd + AFTER_MS),
    changeMs: changeEnd - changeStart,
    failed: counts.failed,
    duplicated,
    lost,
  };
}

async function queueCounts(rt: Runtime): Promise<{ failed: number }> {
  const { Queue } = await import('bullmq');
  const queue = new Queue(rt.keys.bullQueue('default'), { connection: rt.redis as any, prefix: rt.keys.prefix });
  const counts = await queue.getJobCounts('failed');
  return { failed: counts.failed ?? 0 };
}

async function heapOverReloads(worker: Runtime, entry: string): Promise<{ beforeMb: number; afterMb: number; reloadMs: number }> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc (npm run bench:reload does)');
  const settle = async () => {
    await worker.registry.drained();
    for (let i = 0; i < 3; i++) {
      gc();
      await sleep(50);
    }
    return process.memoryUsage().heapUsed / 1e6;
  };

  const beforeMb = await settle();
  const startedAt = Date.now();
  for (let i = 0; i < RELOADS; i++) {
    // Each version carries 100 kB of its own so that a leak of old copies would show.
    writeFileSync(entry, pluginSource(`4.0.${i}`, String(i).padEnd(100_000, '.')));
    const outcome = await worker.fleet!.reloadHere('bench');
    if (outcome.report?.loaded.length !== 1) throw new Error(`reload ${i} did not load: ${JSON.stringify(outcome.report)}`);
  }
  const reloadMs = (Date.now() - startedAt) / RELOADS;
  return { beforeMb, afterMb: await settle(), reloadMs };
}

function report(phases: PhaseResult[], heap: { beforeMb: number; afterMb: number; reloadMs: number }): void {
  const f = (x: number) => x.toFixed(0).padStart(8);
  const lines = [
    machine(),
    `target load: ${TARGET_RATE} jobs/s; "during" = from the change until ${DURING_MS} ms after it ended`,
    '',
    `${'change by'.padEnd(24)}${'before'.padStart(8)}${'during'.padStart(8)}${'after'.padStart(8)}${'change ms'.padStart(10)}${'submitted'.padStart(10)}${'failed'.padStart(8)}${'doubled'.padStart(8)}${'lost'.padStart(6)}`,
    ...phases.map(
      (p) =>
        `${p.name.padEnd(24)}${f(p.beforeRate)}${f(p.duringRate)}${f(p.afterRate)}${f(p.changeMs).padStart(10)}${String(p.submitted).padStart(10)}${String(p.failed).padStart(8)}${String(p.duplicated).padStart(8)}${String(p.lost).padStart(6)}`,
    ),
    '',
    ...phases.map((p) => `${p.name}: jobs began to flow ${p.warmupMs} ms after the load started`),
    `jobs/s during the change, hot swap vs restart: ${(phases[0].duringRate / Math.max(1, phases[1].duringRate)).toFixed(2)}x`,
    `heap over ${RELOADS} reloads (100 kB per version): ${heap.beforeMb.toFixed(1)} MB -> ${heap.afterMb.toFixed(1)} MB, growth ${(heap.afterMb - heap.beforeMb).toFixed(1)} MB (aim < 20 MB); ${heap.reloadMs.toFixed(0)} ms per reload`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
  const bad = phases[0].failed + phases[0].duplicated + phases[0].lost;
  if (bad) process.exitCode = 1;
}

function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

async function waitFor(check: () => boolean, timeoutMs: number, everyMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not every job ended within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}

await main();
