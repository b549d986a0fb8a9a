import { afterEach, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/engine/index.ts';
import { startTestRuntime, tempDir, waitFor } from '../helpers/runtime.ts';
import { flowPlugin, runsOf, writePlugin } from './plugin-files.ts';

/** The load the issue asks a swap to survive, in jobs per second. */
const RATE = 500;
/** Aimed a little above RATE so that the measured rate clears it. */
const TARGET_RATE = 600;
const BATCH = 30;

let runtime: Runtime | undefined;
afterEach(async () => {
  await runtime?.stop();
  runtime = undefined;
});

/**
 * Submits `flow.work` jobs in bulk at TARGET_RATE, paced by the clock: each
 * turn adds what is due since the load began, so a slow turn is made up by
 * the next rather than lowering the rate.
 */
function steadyLoad(rt: Runtime) {
  const ids: string[] = [];
  const startedAt = Date.now();
  let running = true;
  let n = 0;
  const loop = (async () => {
    while (running) {
      const due = Math.floor(((Date.now() - startedAt) / 1000) * TARGET_RATE) - n;
      if (due < BATCH) {
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      const batch = Array.from({ length: due }, () => ({ type: 'flow.work', payload: { n: n++ } }));
      const stored = await rt.producer.submitBulk(batch);
      ids.push(...stored.map((s) => s.id));
    }
  })();
  return {
    ids,
    async stop(): Promise<number> {
      running = false;
      await loop;
      return ids.length / ((Date.now() - startedAt) / 1000);
    },
  };
}

describe('hot swap under load', () => {
  it(`swaps a plugin under ${RATE} jobs/s without failing, losing or doubling a job`, async () => {
    const dir = tempDir('tm-swap-load-');
    writePlugin(dir, 'flow', flowPlugin('1.0.0', { sleepMs: 0 }));
    const rt = (runtime = await startTestRuntime({
      config: {
        plugins: { dirs: [dir], builtins: false, watch: false },
        queues: { default: { concurrency: 100 } },
      },
    }));
    const outcomes = new Map<string, string[]>();
    rt.events.on('attempt.ended', (e) => outcomes.set(e.jobId, [...(outcomes.get(e.jobId) ?? []), e.outcome]));

    // 1. The load runs until jobs flow on 1.0.0, then the plugin changes under it.
    const load = steadyLoad(rt);
    await waitFor(() => outcomes.size >= TARGET_RATE, 30_000);
    writePlugin(dir, 'flow', flowPlugin('2.0.0', { sleepMs: 0 }));
    const swap = await rt.fleet!.reloadHere('test');
    expect(swap.report!.loaded).toMatchObject([{ version: '2.0.0', replaced: { version: '1.0.0' } }]);
    const atSwap = load.ids.length;
    await waitFor(() => load.ids.length >= atSwap + TARGET_RATE, 30_000);
    const rate = await load.stop();

    // 2. The load held its rate across the swap.
    expect(rate).toBeGreaterThanOrEqual(RATE);

    // 3. Every job completed exactly once, on one version or the other, with no failed attempt.
    const ids = load.ids;
    await waitFor(() => ids.every((id) => outcomes.has(id)), 60_000);
    await rt.registry.drained();
    const jobs = await Promise.all(ids.map((id) => rt.jobs.get(id)));
    expect(jobs.filter((j) => j.state === 'completed')).toHaveLength(ids.length);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.filter((id) => runsOf().get(id) !== 1)).toEqual([]);
    expect(ids.filter((id) => outcomes.get(id)!.join() !== 'completed')).toEqual([]);
    for (const job of jobs) {
      expect(job.attempts).toHaveLength(1);
      expect(job.attempts[0].pluginVersion).toBe((job.result as { version: string }).version);
    }
    const versions = new Set(jobs.map((j) => j.attempts[0].pluginVersion));
    expect([...versions].sort()).toEqual(['1.0.0', '2.0.0']);
  });
});
