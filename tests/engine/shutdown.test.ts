import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/engine/index.ts';
import { startTestRuntime, uniquePrefix, waitFor } from '../helpers/runtime.ts';

const FIXTURES = resolve(import.meta.dirname, '..', 'fixtures', 'plugins');

const runtimes: Runtime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((r) => r.stop()));
});

async function start(prefix: string, drainTimeoutMs: number, workers = true) {
  const runtime = await startTestRuntime({
    workers,
    config: { redis: { prefix }, plugins: { dirs: [FIXTURES] }, worker: { drainTimeoutMs } },
  });
  runtimes.push(runtime);
  return runtime;
}

async function stateOf(runtime: Runtime, id: string) {
  return (await runtime.jobs.get(id)).state;
}

describe('graceful worker shutdown', () => {
  it('lets a running job finish within the drain limit', async () => {
    const rt = await start(uniquePrefix(), 10_000);
    const { id } = await rt.producer.submit({ type: 'test.sleep', payload: { ms: 800 } });
    await waitFor(async () => (await stateOf(rt, id)) === 'active');

    await rt.stop();
    runtimes.splice(runtimes.indexOf(rt), 1);

    const reader = await start(rt.keys.prefix, 0, false);
    const job = await reader.jobs.get(id);
    expect(job.state).toBe('completed');
    expect(job.attempts.map((a) => a.outcome)).toEqual(['completed']);
  });

  it('puts a job that outlives the drain limit back to wait without using a retry', async () => {
    const prefix = uniquePrefix();
    const rt = await start(prefix, 300);
    const { id } = await rt.producer.submit({ type: 'test.sleep', payload: { ms: 4000 }, retries: 0 });
    await waitFor(async () => (await stateOf(rt, id)) === 'active');

    const stoppedAt = Date.now();
    await rt.stop();
    runtimes.splice(runtimes.indexOf(rt), 1);
    expect(Date.now() - stoppedAt).toBeLessThan(3000);

    // Back in wait, nothing active, no attempt used: BullMQ did not see a failure.
    const reader = await start(prefix, 0, false);
    const job = await reader.jobs.get(id);
    expect(job.state).toBe('waiting');
    expect(job.attemptsMade).toBe(0);
    expect(job.attempts.map((a) => a.outcome)).toEqual(['interrupted']);
    const queue = reader.producer['queues'].get('default');
    expect(await queue.getActiveCount()).toBe(0);
    expect(await queue.getFailedCount()).toBe(0);

    // Another worker takes it and, although it had no retries, completes it.
    await start(prefix, 10_000);
    const done = await waitFor(async () => {
      const j = await reader.jobs.get(id);
      return j.state === 'completed' ? j : undefined;
    }, 20_000);
    expect(done.attempts.map((a) => a.outcome)).toEqual(['interrupted', 'completed']);
  });

  it('takes no new job once shutdown has begun', async () => {
    const prefix = uniquePrefix();
    const rt = await start(prefix, 10_000);
    const running = await rt.producer.submit({ type: 'test.sleep', payload: { ms: 1500 } });
    await waitFor(async () => (await stateOf(rt, running.id)) === 'active');

    const stopping = rt.stop();
    runtimes.splice(runtimes.indexOf(rt), 1);
    const producer = await start(prefix, 0, false);
    const late = await producer.producer.submit({ type: 'test.noop', payload: {} });
    await stopping;

    expect(await stateOf(producer, running.id)).toBe('completed');
    expect(await stateOf(producer, late.id)).toBe('waiting');
  });
});
