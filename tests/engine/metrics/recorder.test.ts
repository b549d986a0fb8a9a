import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createLogger, JobEvents, MetricsRecorder, MetricsStore, throughput, type Runtime } from '../../../src/engine/index.ts';
import { Keys } from '../../../src/redis/index.ts';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server.ts';
import { startTestRuntime, uniquePrefix, waitFor } from '../../helpers/runtime.ts';

const FIXTURES = resolve(import.meta.dirname, '..', '..', 'fixtures', 'plugins');
const DAY = 24 * 3600_000;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function runtimeWith(prefix?: string): Promise<Runtime> {
  const rt = await startTestRuntime({
    config: {
      plugins: { dirs: [FIXTURES] },
      defaults: { backoffMs: 20 },
      metrics: { flushIntervalMs: 100 },
      ...(prefix ? { redis: { prefix } } : {}),
    },
  });
  cleanups.push(() => rt.stop());
  return rt;
}

describe('metrics recorder', () => {
  it('counts completed, failed and retried jobs and their time in queue', async () => {
    const rt = await runtimeWith();
    await rt.producer.submitBulk([
      ...Array.from({ length: 5 }, () => ({ type: 'test.sleep', payload: { ms: 30 } })),
      { type: 'test.flaky', payload: { failures: 1 }, retries: 0 },
      { type: 'test.flaky', payload: { failures: 1 }, retries: 1 },
    ]);

    const snapshot = await waitFor(async () => {
      const s = await rt.metrics.snapshot();
      const q = s.queues.find((x) => x.queue === 'default')!;
      return q.window.completed === 6 && q.window.failed === 1 ? q : undefined;
    }, 30_000);

    expect(snapshot.window.retried).toBe(1);
    expect(snapshot.window.failureRate).toBeCloseTo(1 / 7);
    const sleep = snapshot.types.find((t) => t.type === 'test.sleep')!;
    expect(sleep.completed).toBe(5);
    expect(sleep.runMs.p50).toBeGreaterThanOrEqual(25);
    expect(sleep.runMs.p50).toBeLessThanOrEqual(2500);
    expect(sleep.waitMs.p99).not.toBeNull();
    expect(snapshot.series.completed.reduce((a, b) => a + b, 0)).toBe(6);
  });

  it('adds up the counts of two processes sharing one Redis', async () => {
    const first = await runtimeWith();
    const second = await runtimeWith(first.keys.prefix);
    await first.producer.submitBulk(Array.from({ length: 20 }, () => ({ type: 'test.sleep', payload: { ms: 20 } })));

    const total = await waitFor(async () => {
      const s = await second.metrics.snapshot();
      return s.queues[0].window.completed === 20 ? s : undefined;
    }, 30_000);
    expect(total.queues[0].depth.waiting).toBe(0);
  });

  it('keeps counts through a Redis outage and writes them once it is back', async () => {
    const redis: TestRedis = await startTestRedis();
    cleanups.push(() => redis.stop());
    const client = new Redis(redis.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: () => 100 });
    client.on('error', () => {});
    cleanups.push(async () => client.disconnect());
    await waitFor(() => client.status === 'ready');

    const keys = new Keys(uniquePrefix());
    const events = new JobEvents();
    const recorder = new MetricsRecorder(client, keys, { flushIntervalMs: 60_000, retentionMs: DAY }, createLogger('silent'));
    recorder.start(events);
    cleanups.push(() => recorder.stop());

    await redis.stop();
    for (let i = 0; i < 3; i++) {
      events.emit('attempt.ended', { queue: 'default', jobId: `j${i}`, type: 'a.b', attempt: 1, durationMs: 40, outcome: 'completed', final: true });
    }
    await recorder.flush();

    await redis.restart();
    await waitFor(() => client.status === 'ready');
    await recorder.flush();

    const store = new MetricsStore(client, keys, DAY);
    const [queue] = await throughput(store, { rangeMs: 5 * 60_000, stepMs: 60_000, queues: ['default'] });
    expect(queue.window.completed).toBe(3);
  });
});
