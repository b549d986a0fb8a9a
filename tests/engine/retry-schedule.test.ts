import { resolve } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import type { Runtime } from '../../src/engine/index.ts';
import { startTestRuntime, waitFor } from '../helpers/runtime.ts';

const FIXTURES = resolve(import.meta.dirname, '..', 'fixtures', 'plugins');

let runtime: Runtime | undefined;
afterEach(async () => {
  await runtime?.stop();
  runtime = undefined;
});

// Real time, default settings: about 31 s. Kept as one test on purpose.
it('retries on the default schedule, 1, 2, 4, 8 and 16 s apart, then moves the job to the DLQ', async () => {
  runtime = await startTestRuntime({ config: { plugins: { dirs: [FIXTURES] } } });
  const rt = runtime;
  const { id } = await rt.producer.submit({ type: 'test.flaky', payload: { failures: 99 } });

  const job = await waitFor(async () => {
    const view = await rt.jobs.get(id);
    return view.state === 'dlq' || view.state === 'completed' ? view : undefined;
  }, 60_000, 100);

  expect(job.state).toBe('dlq');
  expect(job.reason).toBe('retries_exhausted');
  expect(job.attempts).toHaveLength(6);
  const gaps = job.attempts.slice(1).map((a, i) => a.startedAt - job.attempts[i].endedAt);
  [1000, 2000, 4000, 8000, 16_000].forEach((expected, i) => {
    expect(gaps[i]).toBeGreaterThanOrEqual(expected * 0.9);
    expect(gaps[i]).toBeLessThanOrEqual(expected * 1.1 + 250);
  });
}, 90_000);
