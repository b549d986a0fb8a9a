import { resolve } from 'node:path';
import { Queue } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../../src/config/index.ts';
import type { Runtime } from '../../src/engine/index.ts';
import { Dispatcher } from '../../src/engine/fair/dispatcher.ts';
import { createRedis } from '../../src/redis/index.ts';
import { startTestRuntime, waitFor } from '../helpers/runtime.ts';

const FIXTURES = resolve(import.meta.dirname, '..', 'fixtures', 'plugins');

let runtime: Runtime | undefined;
let dispatcher: Dispatcher | undefined;

afterEach(async () => {
  await dispatcher?.stop();
  await runtime?.stop();
  dispatcher = runtime = undefined;
});

/**
 * A producer-only runtime and a dispatcher driven by hand: each `round(n)`
 * hands at most n more jobs to BullMQ's wait list, and returns the jobs in
 * the order workers would take them.
 */
async function setup(queue: ConfigInput['queues'] extends Record<string, infer Q> | undefined ? Partial<Q> : never = {}) {
  runtime = await startTestRuntime({
    workers: false,
    config: { plugins: { builtins: false, dirs: [FIXTURES] }, queues: { default: { concurrency: 1, ...queue } } },
  });
  const rt = runtime;
  const waitKey = rt.keys.bullKey('default', 'wait');
  dispatcher = new Dispatcher({
    queue: 'default',
    settings: rt.config.queues.default,
    redis: rt.redis,
    connect: () => createRedis(rt.redisUrl, 'blocking', 'test'),
    keys: rt.keys,
    lookahead: 0,
    log: rt.log,
  });
  await dispatcher.writeTenantSettings();
  const names = new Map<string, string>();
  return {
    async submit(name: string, options: Record<string, unknown> = {}) {
      const { id } = await rt.producer.submit({ type: 'test.noop', payload: {}, ...options });
      names.set(id, name);
      return id;
    },
    /** Dispatches up to `n` jobs, then empties the wait list as workers would, oldest first. */
    async round(n: number): Promise<string[]> {
      await dispatcher!.dispatch(n);
      const ids = (await rt.redis.lrange(waitKey, 0, -1)).reverse();
      await rt.redis.del(waitKey);
      return ids.map((id) => names.get(id) ?? id);
    },
  };
}

const count = (names: string[], prefix: string) => names.filter((n) => n.startsWith(prefix)).length;

describe('fair scheduling within a queue', () => {
  it('starts jobs of one class first in, first out', async () => {
    const q = await setup();
    for (const name of ['a', 'b', 'c', 'd']) await q.submit(name);

    expect(await q.round(10)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('splits starts by the class weights 8:4:2:1 when every class is backlogged', async () => {
    const q = await setup();
    for (let i = 0; i < 20; i++) {
      for (const priority of ['low', 'normal', 'high', 'critical']) await q.submit(`${priority}${i}`, { priority });
    }

    const first = await q.round(15);
    const second = await q.round(15);

    for (const window of [first, second]) {
      expect([count(window, 'critical'), count(window, 'high'), count(window, 'normal'), count(window, 'low')]).toEqual([8, 4, 2, 1]);
    }
    // FIFO inside each class across windows.
    expect([...first, ...second].filter((n) => n.startsWith('high'))).toEqual(['high0', 'high1', 'high2', 'high3', 'high4', 'high5', 'high6', 'high7']);
  });

  it('uses configured weights', async () => {
    const q = await setup({ weights: { critical: 1, high: 1, normal: 1, low: 1 } });
    for (let i = 0; i < 3; i++) for (const priority of ['critical', 'low']) await q.submit(`${priority}${i}`, { priority });

    expect(await q.round(6)).toEqual(['critical0', 'low0', 'critical1', 'low1', 'critical2', 'low2']);
  });

  it('is work-conserving: classes with work share all starts, an idle class banks no credit', async () => {
    const q = await setup();
    for (let i = 0; i < 6; i++) for (const priority of ['normal', 'low']) await q.submit(`${priority}${i}`, { priority });

    const shares = await q.round(6);
    expect([count(shares, 'normal'), count(shares, 'low')]).toEqual([4, 2]);

    // Critical was idle all along: once it has work it gets its weight, not a burst.
    for (let i = 0; i < 8; i++) await q.submit(`critical${i}`, { priority: 'critical' });
    const next = await q.round(11);
    expect([count(next, 'critical'), count(next, 'normal'), count(next, 'low')]).toEqual([8, 2, 1]);
  });

  it('lets tenants of a class take turns, whatever their backlog', async () => {
    const q = await setup();
    for (let i = 0; i < 6; i++) await q.submit(`big${i}`, { tenant: 'big' });
    for (let i = 0; i < 2; i++) await q.submit(`small${i}`, { tenant: 'small' });
    await q.submit('none0');

    expect(await q.round(9)).toEqual(['big0', 'small0', 'none0', 'big1', 'small1', 'big2', 'big3', 'big4', 'big5']);
  });

  it('gives a weighted tenant that many turns in a row', async () => {
    const q = await setup({ tenants: { gold: { weight: 3 } } });
    for (let i = 0; i < 6; i++) await q.submit(`gold${i}`, { tenant: 'gold' });
    for (let i = 0; i < 3; i++) await q.submit(`tin${i}`, { tenant: 'tin' });

    expect(await q.round(9)).toEqual(['gold0', 'gold1', 'gold2', 'tin0', 'gold3', 'gold4', 'gold5', 'tin1', 'tin2']);
  });

  it('holds back a tenant at its maxRunning while others go on', async () => {
    const q = await setup({ tenants: { capped: { maxRunning: 1 } } });
    const first = await q.submit('capped0', { tenant: 'capped' });
    await q.submit('capped1', { tenant: 'capped' });
    await q.submit('free0', { tenant: 'free' });
    await q.submit('free1', { tenant: 'free' });

    expect(await q.round(4)).toEqual(['capped0', 'free0', 'free1']);
    expect(await q.round(4)).toEqual([]);

    // Its running job ends (here: removed, as retention would): its next job may go.
    await runtime!.redis.del(runtime!.keys.job('default', first));
    expect(await q.round(4)).toEqual(['capped1']);
  });

  it('applies a priority change at the next dispatch', async () => {
    const q = await setup();
    for (let i = 0; i < 3; i++) await q.submit(`normal${i}`);
    const late = await q.submit('late', { priority: 'low' });
    expect(await q.round(1)).toEqual(['normal0']);

    await runtime!.control.changePriority(late, 'critical', 'test');

    expect(await q.round(1)).toEqual(['late']);
    expect(await q.round(5)).toEqual(['normal1', 'normal2']);
  });

  it('orders a delayed job by its ready time among fresh jobs of its class', async () => {
    const q = await setup();
    const delayed = await q.submit('delayed', { delayMs: 300 });
    await q.submit('before');
    expect(await q.round(5)).toEqual(['before']);
    expect((await runtime!.jobs.get(delayed)).state).toBe('delayed');

    await waitFor(async () => (await runtime!.jobs.get(delayed)).state === 'waiting');
    await q.submit('after');

    expect(await q.round(5)).toEqual(['delayed', 'after']);
  });

  it('shows held jobs as waiting in depth, and cancels them', async () => {
    const q = await setup();
    const a = await q.submit('a');
    await q.submit('b');
    await q.submit('later', { delayMs: 60_000 });
    await q.round(0); // lists a and b, hands none over

    const depth = (await runtime!.metrics.depths())['default'];
    expect([depth.waiting, depth.delayed]).toEqual([2, 1]);
    expect((await runtime!.jobs.get(a)).state).toBe('waiting');

    await runtime!.control.cancel(a, 'test');
    expect(await q.round(5)).toEqual(['b']);
  });
});

describe('fair scheduling with workers', () => {
  let worker: Runtime | undefined;
  afterEach(async () => {
    await worker?.stop();
    worker = undefined;
  });

  it('puts a retried job back at the end of its class by the time its retry is ready', async () => {
    const config = { plugins: { builtins: false, dirs: [FIXTURES] }, queues: { default: { concurrency: 1 } } };
    runtime = await startTestRuntime({ workers: false, config });
    const names = new Map<string, string>();
    const submit = async (name: string, job: Record<string, unknown>) => {
      const { id } = await runtime!.producer.submit({ retries: 1, backoff: { type: 'fixed', delayMs: 0 }, ...job });
      names.set(id, name);
      return id;
    };
    const flaky = await submit('flaky', { type: 'test.flaky', payload: { failures: 1 } });
    await submit('a', { type: 'test.noop', payload: {} });
    await submit('b', { type: 'test.noop', payload: {} });

    // Paused until the worker's events are listened to.
    const queue = new Queue(runtime.keys.bullQueue('default'), { connection: runtime.redis, prefix: runtime.keys.prefix });
    await queue.pause();
    worker = await startTestRuntime({ workers: true, config: { ...config, redis: { prefix: runtime.keys.prefix } } });
    const starts: string[] = [];
    worker.events.on('attempt.started', (e) => starts.push(`${names.get(e.jobId) ?? e.jobId}#${e.attempt}`));
    await queue.resume();

    // A job submitted after the failure became ready after the retry: it starts after it.
    await waitFor(async () => (await runtime!.jobs.get(flaky)).attemptsMade >= 1);
    await submit('c', { type: 'test.noop', payload: {} });
    await waitFor(() => starts.length === 5);

    expect(starts).toEqual(['flaky#1', 'a#1', 'b#1', 'flaky#2', 'c#1']);
  });
});
