import { resolve } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import type { Runtime } from '../../src/engine/index.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.ts';
import { startTestRuntime, waitFor } from '../helpers/runtime.ts';

const FIXTURES = resolve(import.meta.dirname, '..', 'fixtures', 'plugins');
const HANDLER_MS = 600;

let runtime: Runtime | undefined;
let redis: TestRedis | undefined;
afterEach(async () => {
  await runtime?.stop();
  await redis?.stop();
  runtime = redis = undefined;
});

it('a handler that returns while Redis is away is recorded once Redis is back; the job does not run again', async () => {
  redis = await startTestRedis(['--appendonly', 'yes', '--appendfsync', 'always']);
  // A lock longer than the outage: nothing here may look stalled.
  runtime = await startTestRuntime({
    redisUrl: redis.url,
    config: { plugins: { dirs: [FIXTURES] }, worker: { lockDurationMs: 10_000 } },
  });
  const rt = runtime;
  const { id } = await rt.producer.submit({ type: 'test.sleep', payload: { ms: HANDLER_MS }, retries: 2 });
  const jobKey = rt.keys.job('default', id);
  await waitFor(async () => (await rt.redis.hget(jobKey, 'tm_running')) !== null, 15_000);

  await redis.stop();
  const downAt = Date.now();
  // The handler started before its running mark was seen: it returns within HANDLER_MS, with Redis away.
  await new Promise((r) => setTimeout(r, HANDLER_MS + 400));
  const upAt = Date.now();
  await redis.restart();

  const job = await waitFor(async () => {
    const view = await rt.jobs.get(id).catch(() => undefined);
    return view && ['completed', 'failed', 'dlq'].includes(view.state) ? view : undefined;
  }, 30_000, 100);

  expect(job.state).toBe('completed');
  // One attempt, completed: not a failure for the unreachable Redis, nor a "lost worker" after it.
  expect(job.attempts).toHaveLength(1);
  expect(job.attempts[0]).toMatchObject({ attempt: 1, outcome: 'completed' });
  // The case under test did happen: the handler ended (and its record was made) while Redis was down.
  expect(job.attempts[0].endedAt).toBeGreaterThan(downAt);
  expect(job.attempts[0].endedAt).toBeLessThan(upAt);
  expect(await rt.redis.hget(jobKey, 'ats')).toBe('1');
  expect(job.result).toEqual({ slept: HANDLER_MS, aborted: false });
});
