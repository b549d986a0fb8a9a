import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/engine/index.ts';
import { startTestRuntime, waitFor } from '../helpers/runtime.ts';

const FIXTURES = resolve(import.meta.dirname, '..', 'fixtures', 'plugins');

let runtime: Runtime | undefined;
afterEach(async () => {
  await runtime?.stop();
  runtime = undefined;
});

async function start(backoffMs = 50) {
  runtime = await startTestRuntime({
    config: { plugins: { dirs: [FIXTURES] }, defaults: { backoffMs } },
  });
  return runtime;
}

async function finished(rt: Runtime, id: string) {
  return waitFor(async () => {
    const job = await rt.jobs.get(id);
    return job.state === 'completed' || job.state === 'dlq' || job.state === 'cancelled' ? job : undefined;
  }, 30_000);
}

describe('retries', () => {
  it('retries with doubling gaps and runs exactly retries + 1 times', async () => {
    const rt = await start(100);
    const { id } = await rt.producer.submit({ type: 'test.flaky', payload: { failures: 99 }, retries: 4 });

    const job = await finished(rt, id);

    expect(job.state).toBe('dlq');
    expect(job.attempts).toHaveLength(5);
    const gaps = job.attempts.slice(1).map((a, i) => a.startedAt - job.attempts[i].endedAt);
    const expected = [100, 200, 400, 800];
    gaps.forEach((gap, i) => {
      expect(gap).toBeGreaterThanOrEqual(expected[i] * 0.9);
      expect(gap).toBeLessThan(expected[i] * 1.1 + 250);
    });
  });

  it('completes on the first attempt that succeeds', async () => {
    const rt = await start();
    const { id } = await rt.producer.submit({ type: 'test.flaky', payload: { failures: 2 } });

    const job = await finished(rt, id);

    expect(job.state).toBe('completed');
    expect(job.attempts.map((a) => a.outcome)).toEqual(['failed', 'failed', 'completed']);
    expect(job.result).toEqual({ attempt: 3 });
  });

  it('runs a job that throws PermanentError once', async () => {
    const rt = await start();
    const { id } = await rt.producer.submit({ type: 'test.flaky', payload: { failures: 5, permanent: true } });

    const job = await finished(rt, id);

    expect(job.state).toBe('dlq');
    expect(job.attempts).toHaveLength(1);
    expect(job.attempts[0].error?.name).toBe('PermanentError');
  });

  it('waits exactly what a RetryAfterError asks', async () => {
    const rt = await start(10);
    const { id } = await rt.producer.submit({ type: 'test.flaky', payload: { failures: 1, retryAfterMs: 600 } });

    const job = await finished(rt, id);

    expect(job.state).toBe('completed');
    const gap = job.attempts[1].startedAt - job.attempts[0].endedAt;
    expect(gap).toBeGreaterThanOrEqual(540);
    expect(gap).toBeLessThan(600 * 1.1 + 250);
  });

  it('fails an attempt that outlives its timeout and fires its signal', async () => {
    const rt = await start(10);
    const { id } = await rt.producer.submit({ type: 'test.sleep', payload: { ms: 2000 }, timeoutMs: 100, retries: 0 });

    const job = await finished(rt, id);

    expect(job.state).toBe('dlq');
    expect(job.attempts[0].error?.name).toBe('TimeoutError');
    expect(job.attempts[0].endedAt - job.attempts[0].startedAt).toBeLessThan(1000);
  });

  it('records the plugin name, version and content hash on every attempt', async () => {
    const rt = await start(10);
    const { id } = await rt.producer.submit({ type: 'test.flaky', payload: { failures: 1 } });

    const job = await finished(rt, id);

    const plugin = rt.registry.get('test.flaky')!.plugin;
    expect(job.attempts).toHaveLength(2);
    for (const attempt of job.attempts) {
      expect(attempt).toMatchObject({ plugin: 'testkit', pluginVersion: '1.2.3', pluginHash: plugin.hash });
      expect(attempt.pluginHash).toMatch(/^[0-9a-f]{16}$/);
    }
  });
});
