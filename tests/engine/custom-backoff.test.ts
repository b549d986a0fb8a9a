import { resolve } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import type { Runtime } from '../../src/engine/index.ts';
import { startTestRuntime, waitFor } from '../helpers/runtime.ts';

const FIXTURES = resolve(import.meta.dirname, '..', 'fixtures', 'plugins');
const FAILURES = resolve(import.meta.dirname, '..', 'fixtures', 'failure-plugins');

let runtime: Runtime | undefined;
afterEach(async () => {
  await runtime?.stop();
  runtime = undefined;
});

async function gapsOf(rt: Runtime, id: string) {
  const job = await waitFor(async () => {
    const view = await rt.jobs.get(id);
    return view.state === 'dlq' || view.state === 'completed' ? view : undefined;
  }, 20_000);
  return { job, gaps: job.attempts.slice(1).map((a, i) => a.startedAt - job.attempts[i].endedAt) };
}

function within(gaps: number[], expected: number[]) {
  expect(gaps).toHaveLength(expected.length);
  gaps.forEach((gap, i) => {
    expect(gap).toBeGreaterThanOrEqual(expected[i] * 0.9);
    // Generous: the machine running the tests is shared and often loaded.
    expect(gap).toBeLessThanOrEqual(expected[i] * 1.1 + 600);
  });
}

it("follows a job type's list backoff from its defaults", async () => {
  runtime = await startTestRuntime({ config: { plugins: { dirs: [FAILURES] } } });
  const { id } = await runtime.producer.submit({ type: 'outage.listed', payload: {} });

  const { job, gaps } = await gapsOf(runtime, id);

  expect(job.attempts).toHaveLength(4);
  within(gaps, [100, 400, 200]);
});

it("lets a job's own fixed backoff and retries win over its type's", async () => {
  runtime = await startTestRuntime({ config: { plugins: { dirs: [FAILURES] } } });
  const { id } = await runtime.producer.submit({ type: 'outage.listed', payload: {}, retries: 2, backoff: { type: 'fixed', delayMs: 300 } });

  const { job, gaps } = await gapsOf(runtime, id);

  expect(job.attempts).toHaveLength(3);
  within(gaps, [300, 300]);
});

it('caps an exponential backoff at maxDelayMs', async () => {
  runtime = await startTestRuntime({ config: { plugins: { dirs: [FIXTURES] } } });
  const backoff = { type: 'exponential' as const, delayMs: 100, factor: 3, maxDelayMs: 500 };
  const { id } = await runtime.producer.submit({ type: 'test.flaky', payload: { failures: 9 }, retries: 3, backoff });

  const { gaps } = await gapsOf(runtime, id);

  within(gaps, [100, 300, 500]);
});

it('keeps jittered waits inside their bounds', async () => {
  runtime = await startTestRuntime({ config: { plugins: { dirs: [FIXTURES] } } });
  const backoff = { type: 'fixed' as const, delayMs: 600, jitter: 'equal' as const };
  const { id } = await runtime.producer.submit({ type: 'test.flaky', payload: { failures: 9 }, retries: 3, backoff });

  const { gaps } = await gapsOf(runtime, id);

  expect(gaps).toHaveLength(3);
  for (const gap of gaps) {
    expect(gap).toBeGreaterThanOrEqual(300 * 0.9);
    expect(gap).toBeLessThanOrEqual(600 * 1.1 + 600);
  }
});

it('rejects a bad backoff at submission, naming the field', async () => {
  runtime = await startTestRuntime({ workers: false, config: { plugins: { dirs: [FIXTURES] } } });

  const err = await runtime.producer.submit({ type: 'test.noop', payload: {}, backoff: { type: 'list' } }).catch((e) => e);

  expect(err.name).toBe('ValidationError');
  expect(err.issues[0].field).toBe('backoff.delaysMs');
});
