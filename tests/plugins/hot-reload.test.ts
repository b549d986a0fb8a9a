import { afterEach, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/engine/index.ts';
import { startTestRuntime, tempDir, waitFor } from '../helpers/runtime.ts';
import { flowPlugin, hookLog, removePlugin, runsOf, writePlugin } from './plugin-files.ts';

let runtime: Runtime | undefined;
afterEach(async () => {
  await runtime?.stop();
  runtime = undefined;
});

async function start(dir: string, plugins: Record<string, unknown> = {}) {
  runtime = await startTestRuntime({
    config: {
      plugins: { dirs: [dir], builtins: false, watch: false, ...plugins },
      queues: { default: { concurrency: 20 } },
    },
  });
  return runtime;
}

async function finished(rt: Runtime, id: string, timeoutMs = 30_000) {
  return waitFor(async () => {
    const job = await rt.jobs.get(id);
    return ['completed', 'dlq'].includes(job.state) ? job : undefined;
  }, timeoutMs);
}

/** Submits batches of `flow.work` jobs until stopped; a refused batch (type gone) is counted, not stored. */
function keepSubmitting(rt: Runtime) {
  const ids: string[] = [];
  let refused = 0;
  let running = true;
  const loop = (async () => {
    let n = 0;
    while (running) {
      const batch = Array.from({ length: 10 }, () => ({ type: 'flow.work', payload: { n: n++ } }));
      try {
        const stored = await rt.producer.submitBulk(batch);
        ids.push(...stored.map((s) => s.id));
      } catch (err) {
        expect((err as any).name).toBe('ValidationError');
        expect((err as any).issues[0]).toMatchObject({ field: 'jobs.0.type', message: 'unknown job type flow.work' });
        refused++;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    ids,
    refused: () => refused,
    async stop() {
      running = false;
      await loop;
    },
  };
}

describe('plugins at run time', () => {
  it('adds, changes, removes and restores a plugin while jobs flow, losing and doubling nothing', async () => {
    const dir = tempDir('tm-plugins-');
    const rt = await start(dir, { missingHandlerRecheckMs: 60_000 });
    expect(rt.registry.get('flow.work')).toBeUndefined();

    // Add.
    writePlugin(dir, 'flow', flowPlugin('1.0.0', { sleepMs: 5 }));
    const added = await rt.fleet!.reloadHere('test');
    expect(added.report!.loaded.map((p) => p.version)).toEqual(['1.0.0']);
    const flow = keepSubmitting(rt);
    await waitFor(() => flow.ids.length >= 50);

    // Change.
    writePlugin(dir, 'flow', flowPlugin('2.0.0', { sleepMs: 5 }));
    const changed = await rt.fleet!.reloadHere('test');
    expect(changed.report!.loaded[0]).toMatchObject({ version: '2.0.0', replaced: { version: '1.0.0' } });
    await waitFor(() => flow.ids.length >= 100);

    // Remove: new submissions are refused, queued jobs wait.
    removePlugin(dir, 'flow');
    const removed = await rt.fleet!.reloadHere('test');
    expect(removed.report!.removed.map((p) => p.name)).toEqual(['flow']);
    await waitFor(() => flow.refused() >= 3);

    // Restore.
    writePlugin(dir, 'flow', flowPlugin('3.0.0', { sleepMs: 5 }));
    await rt.fleet!.reloadHere('test');
    await waitFor(() => flow.ids.length >= 150);
    await flow.stop();

    await Promise.all(flow.ids.map((id) => finished(rt, id)));
    // Read again once all ended: a job read while it completed may show the state before its result.
    const jobs = await Promise.all(flow.ids.map((id) => rt.jobs.get(id)));
    expect(jobs.filter((j) => j.state === 'completed')).toHaveLength(flow.ids.length);
    for (const job of jobs) {
      expect(job.attempts).toHaveLength(1);
      expect(runsOf().get(job.id)).toBe(1);
    }
    const versions = new Set(jobs.map((j) => (j.result as { version: string }).version));
    expect([...versions].sort()).toEqual(['1.0.0', '2.0.0', '3.0.0']);
  });

  it('rejects a broken version and keeps serving the one before', async () => {
    const dir = tempDir('tm-plugins-');
    writePlugin(dir, 'flow', flowPlugin('1.0.0'));
    writePlugin(dir, 'other', flowPlugin('1.0.0', { name: 'other', type: 'other.work' }));
    const rt = await start(dir);
    const good = rt.registry.get('flow.work')!.plugin.hash;

    const broken: [string, string, RegExp][] = [
      ['syntax error', 'export default definePlugin({ name: "flow", version: ', /cannot import/],
      ['throw in onInit', flowPlugin('2.0.0', { extra: 'onInit() { throw new Error("no database"); },' }).replace(/onInit: \(\) => \{[^}]*\},/, ''), /onInit failed: no database/],
      ['invalid definition', flowPlugin('2.0.0').replace("'flow.work'", "'Flow Work'"), /job type names look like/],
      ['type claimed by another plugin', flowPlugin('2.0.0', { type: 'other.work' }), /job type other.work is already provided by plugin other/],
    ];
    for (const [what, source, problem] of broken) {
      writePlugin(dir, 'flow', source);
      const outcome = await rt.fleet!.reloadHere('test');

      expect(outcome.report!.rejected, what).toHaveLength(1);
      expect(outcome.report!.rejected[0].problems.join('\n'), what).toMatch(problem);
      expect(rt.registry.rejected()).toHaveLength(1);
      const { id } = await rt.producer.submit({ type: 'flow.work', payload: { n: 1 } });
      const job = await finished(rt, id);
      expect(job.state, what).toBe('completed');
      expect(job.attempts[0]).toMatchObject({ pluginVersion: '1.0.0', pluginHash: good });
    }

    writePlugin(dir, 'flow', flowPlugin('3.0.0'));
    const fixed = await rt.fleet!.reloadHere('test');
    expect(fixed.report!.loaded.map((p) => p.version)).toEqual(['3.0.0']);
    expect(rt.registry.rejected()).toEqual([]);
  });

  it('parks queued jobs of a removed type without using retries, and runs them when it returns', async () => {
    const dir = tempDir('tm-plugins-');
    writePlugin(dir, 'flow', flowPlugin('1.0.0'));
    const rt = await start(dir, { missingHandlerRecheckMs: 60_000 });
    const { id } = await rt.producer.submit({ type: 'flow.work', payload: { n: 1 }, delayMs: 300, retries: 0 });

    removePlugin(dir, 'flow');
    await rt.fleet!.reloadHere('test');
    const parked = await waitFor(async () => {
      const job = await rt.jobs.get(id);
      return job.waitingForHandler ? job : undefined;
    });
    expect(parked).toMatchObject({ state: 'delayed', attemptsMade: 0, attempts: [] });

    writePlugin(dir, 'flow', flowPlugin('2.0.0'));
    const returnedAt = Date.now();
    await rt.fleet!.reloadHere('test');
    const job = await finished(rt, id, 10_000);

    expect(job.state).toBe('completed');
    expect(job.result).toMatchObject({ version: '2.0.0' });
    expect(job.attempts).toHaveLength(1);
    // Woken when the type came back, not at the next look a minute later.
    expect(job.timestamps.finishedAt! - returnedAt).toBeLessThan(5000);
  });

  it('lets running jobs finish on the old version, then runs its onShutdown', async () => {
    const dir = tempDir('tm-plugins-');
    hookLog().length = 0;
    let open!: () => void;
    (globalThis as any).__tmGate = new Promise<void>((resolve) => (open = resolve));
    writePlugin(dir, 'flow', flowPlugin('1.0.0', { gate: true }));
    const rt = await start(dir);
    const first = await rt.producer.submit({ type: 'flow.work', payload: { n: 1 } });
    await waitFor(async () => (await rt.jobs.get(first.id)).state === 'active');

    writePlugin(dir, 'flow', flowPlugin('2.0.0'));
    await rt.fleet!.reloadHere('test');
    const second = await rt.producer.submit({ type: 'flow.work', payload: { n: 2 } });
    const two = await finished(rt, second.id);
    expect(two.result).toMatchObject({ version: '2.0.0' });
    expect((await rt.jobs.get(first.id)).state).toBe('active');
    expect(hookLog()).not.toContain('shutdown:1.0.0');

    open();
    const one = await finished(rt, first.id);
    expect(one.result).toMatchObject({ version: '1.0.0' });
    await rt.registry.drained();
    const hooks = hookLog();
    expect(hooks.lastIndexOf('shutdown:1.0.0')).toBeGreaterThan(hooks.lastIndexOf('init:2.0.0'));
  });

  it('aborts jobs past the drain limit and runs them again on the new version without using a retry', async () => {
    const dir = tempDir('tm-plugins-');
    writePlugin(dir, 'flow', flowPlugin('1.0.0', { hang: true }));
    const rt = await start(dir, { drainTimeoutMs: 200 });
    const { id } = await rt.producer.submit({ type: 'flow.work', payload: { n: 1 }, retries: 0 });
    await waitFor(async () => (await rt.jobs.get(id)).state === 'active');

    writePlugin(dir, 'flow', flowPlugin('2.0.0'));
    await rt.fleet!.reloadHere('test');
    const job = await finished(rt, id);

    expect(job.state).toBe('completed');
    expect(job.result).toMatchObject({ version: '2.0.0' });
    expect(job.attempts.map((a) => [a.pluginVersion, a.outcome, a.error?.name])).toEqual([
      ['1.0.0', 'failed', 'PluginSwapError'],
      ['2.0.0', 'completed', undefined],
    ]);
  });
});
