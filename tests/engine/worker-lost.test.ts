import { resolve } from 'node:path';
import { afterEach, expect, inject, it } from 'vitest';
import type { Runtime } from '../../src/engine/index.ts';
import { startTestRuntime, uniquePrefix, waitFor } from '../helpers/runtime.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

const FAILURES = resolve(import.meta.dirname, '..', 'fixtures', 'failure-plugins');

let runtime: Runtime | undefined;
let worker: TestServer | undefined;
afterEach(async () => {
  await worker?.stop('SIGKILL');
  await runtime?.stop();
  runtime = worker = undefined;
});

it('counts a SIGKILLed worker mid-job as one failed attempt and retries it after the backoff', async () => {
  const prefix = uniquePrefix();
  const config = {
    redis: { prefix, allowEviction: true },
    plugins: { dirs: [FAILURES] },
    defaults: { backoff: { type: 'fixed' as const, delayMs: 700 } },
    worker: { lockDurationMs: 1500, stalledIntervalMs: 500 },
  };

  // 1. A real worker process takes the job and is killed in the middle of it.
  worker = await startServer({ role: 'worker', redisUrl: inject('redisUrl'), config: { ...config, log: { level: 'warn' } } });
  runtime = await startTestRuntime({ workers: false, config });
  const { id } = await runtime.producer.submit({ type: 'outage.slow-first', payload: { ms: 60_000 }, retries: 2 });
  const rt = runtime;
  await waitFor(async () => (await rt.redis.hget(rt.keys.job('default', id), 'tm_running')) !== null, 30_000);
  worker.process.kill('SIGKILL');
  const killedPid = worker.process.pid;

  // 2. Another worker finds the stalled job; the lost run counts as a failed attempt.
  await rt.stop();
  runtime = await startTestRuntime({ workers: true, config });
  const job = await waitFor(async () => {
    const view = await runtime!.jobs.get(id);
    return ['completed', 'dlq'].includes(view.state) ? view : undefined;
  }, 30_000);

  expect(job.state).toBe('completed');
  expect(job.attempts).toHaveLength(2);
  const [lost, retried] = job.attempts;
  expect(lost).toMatchObject({ attempt: 1, outcome: 'failed', error: { name: 'WorkerLostError' } });
  expect(lost.worker).toContain(`:${killedPid}:`);
  expect(retried).toMatchObject({ attempt: 2, outcome: 'completed' });
  const gap = retried.startedAt - lost.endedAt;
  expect(gap).toBeGreaterThanOrEqual(700 * 0.9);
  expect(gap).toBeLessThan(700 * 1.1 + 250);
  expect(job.result).toEqual({ attempt: 2 });
});
