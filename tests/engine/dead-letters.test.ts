import { resolve } from 'node:path';
import { Queue } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/engine/index.ts';
import { startTestRuntime, waitFor } from '../helpers/runtime.ts';

const FIXTURES = resolve(import.meta.dirname, '..', 'fixtures', 'plugins');
const FAILURES = resolve(import.meta.dirname, '..', 'fixtures', 'failure-plugins');

let runtime: Runtime | undefined;
afterEach(async () => {
  await runtime?.stop();
  runtime = undefined;
});

async function start() {
  runtime = await startTestRuntime({ config: { plugins: { dirs: [FIXTURES, FAILURES] }, defaults: { backoffMs: 20 } } });
  return runtime;
}

async function ended(rt: Runtime, id: string) {
  return waitFor(async () => {
    const job = await rt.jobs.get(id).catch(() => undefined);
    return job && ['completed', 'dlq', 'cancelled'].includes(job.state) ? job : undefined;
  }, 20_000);
}

/** Where a job id appears among BullMQ's sets and TaskMaster's stores. */
async function places(rt: Runtime, queue: string, id: string): Promise<string[]> {
  const k = rt.keys;
  const found: string[] = [];
  for (const set of ['wait', 'active', 'delayed', 'prioritized', 'completed', 'failed']) {
    const key = k.bullKey(queue, set);
    const type = await rt.redis.type(key);
    const hit = type === 'list' ? (await rt.redis.lpos(key, id)) !== null : type === 'zset' ? (await rt.redis.zscore(key, id)) !== null : false;
    if (hit) found.push(set);
  }
  if (await rt.redis.hget(k.dlqByJob(queue), id)) found.push('dlq');
  if (await rt.redis.hexists(k.cancelledEntries(queue), id)) found.push('cancelled');
  return found;
}

describe('dead-letter queue', () => {
  it('moves a job that fails for good to the DLQ with everything needed to replay it', async () => {
    const rt = await start();
    const { id } = await rt.producer.submit({
      type: 'test.flaky',
      payload: { failures: 99 },
      retries: 2,
      priority: 'high',
      tenant: 'acme',
      idempotencyKey: 'order-17',
    });

    const job = await ended(rt, id);

    expect(job.state).toBe('dlq');
    expect(await places(rt, 'default', id)).toEqual(['dlq']);
    expect(await rt.redis.exists(rt.keys.job('default', id))).toBe(0);
    const entry = await rt.dlq.get(job.dlqEntryId!);
    expect(entry).toMatchObject({
      jobId: id,
      type: 'test.flaky',
      queue: 'default',
      payload: { failures: 99, permanent: false },
      priority: 'high',
      tenant: 'acme',
      idempotencyKey: 'order-17',
      retries: 2,
      reason: 'retries_exhausted',
      error: 'failure on attempt 3',
    });
    expect(entry.attempts).toHaveLength(3);
    for (const attempt of entry.attempts) {
      expect(attempt.endedAt).toBeGreaterThanOrEqual(attempt.startedAt);
      expect(attempt.pluginVersion).toBe('1.2.3');
      expect(attempt.error?.message).toMatch(/^failure on attempt \d$/);
      expect(attempt.error?.stack).toContain('Error: failure on attempt');
    }
  });

  it('sends a PermanentError to the DLQ after one attempt with its reason', async () => {
    const rt = await start();
    const { id } = await rt.producer.submit({ type: 'outage.with-function', payload: { to: 'x' } });
    // This type has a fallback; use the plain one for the reason check.
    const plain = await rt.producer.submit({ type: 'test.flaky', payload: { failures: 3, permanent: true } });

    const job = await ended(rt, plain.id);

    expect(job.state).toBe('dlq');
    expect(job.attempts).toHaveLength(1);
    expect(job.reason).toBe('permanent');
    expect((await ended(rt, id)).state).toBe('completed');
  });

  it('keeps an idempotency key to its job after the job ended in the DLQ or cancelled: nothing is stored or run again', async () => {
    const rt = await start();
    const failing = { type: 'test.flaky', payload: { failures: 1, permanent: true }, idempotencyKey: 'charge-9' };
    const first = await rt.producer.submit(failing);
    expect((await ended(rt, first.id)).state).toBe('dlq');
    const delayed = { type: 'test.noop', payload: {}, delayMs: 60_000, idempotencyKey: 'mail-4' };
    const second = await rt.producer.submit(delayed);
    await rt.control.cancel(second.id);

    const again = await rt.producer.submit(failing);
    const [bulkDlq, bulkCancelled, fresh] = await rt.producer.submitBulk([failing, delayed, { ...delayed, idempotencyKey: 'mail-5' }]);

    expect(again).toMatchObject({ id: first.id, state: 'dlq', duplicate: true });
    expect(bulkDlq).toMatchObject({ id: first.id, state: 'dlq', duplicate: true });
    expect(bulkCancelled).toMatchObject({ id: second.id, state: 'cancelled', duplicate: true });
    expect(fresh).toMatchObject({ state: 'delayed', duplicate: false });
    expect(await places(rt, 'default', first.id)).toEqual(['dlq']);
    expect(await places(rt, 'default', second.id)).toEqual(['cancelled']);
    expect((await rt.jobs.get(first.id)).attempts).toHaveLength(1);
    expect((await rt.dlq.list({})).entries.filter((e) => e.jobId === first.id)).toHaveLength(1);
  });

  it('sends a stored payload that no longer matches its schema to the DLQ after one attempt', async () => {
    const rt = await start();
    const queue = new Queue(rt.keys.bullQueue('default'), { connection: rt.redis, prefix: rt.keys.prefix });
    // Written straight with BullMQ, as a producer outside TaskMaster would: wrong field type.
    await queue.add('test.flaky', { payload: { failures: 'many' }, priority: 'normal', timeoutMs: 1000, submissionId: 'x' }, { jobId: 'default.badschema', attempts: 4, backoff: { type: 'taskmaster', delay: 10 } });
    // And one without the envelope at all.
    await queue.add('test.noop', 'just a string' as never, { jobId: 'default.noenvelope', attempts: 4, backoff: { type: 'taskmaster', delay: 10 } });

    const bad = await ended(rt, 'default.badschema');
    const bare = await ended(rt, 'default.noenvelope');

    for (const job of [bad, bare]) {
      expect(job.state).toBe('dlq');
      expect(job.reason).toBe('invalid_payload');
      expect(job.attempts).toHaveLength(1);
    }
    expect(bad.attempts[0].error?.message).toContain('failures');
    const page = await rt.dlq.list({ reason: 'invalid_payload' });
    expect(page.entries.map((e) => e.jobId).sort()).toEqual(['default.badschema', 'default.noenvelope']);
  });

  it('sends a job whose stored data is not JSON to the DLQ after one attempt, keeping the text', async () => {
    const rt = await start();
    const queue = new Queue(rt.keys.bullQueue('default'), { connection: rt.redis, prefix: rt.keys.prefix });
    await queue.add('test.noop', { payload: {} }, { jobId: 'default.unreadable', delay: 300, attempts: 3 });
    await rt.redis.hset(rt.keys.job('default', 'default.unreadable'), 'data', '{"payload": broken');

    const job = await ended(rt, 'default.unreadable');

    expect(job).toMatchObject({ state: 'dlq', reason: 'invalid_payload' });
    expect(job.attempts).toHaveLength(1);
    expect((await rt.dlq.get(job.dlqEntryId!)).rawData).toBe('{"payload": broken');
    expect(await places(rt, 'default', 'default.unreadable')).toEqual(['dlq']);
  });

  it('settles a failed job a crashed process left behind, even one whose data is not JSON', async () => {
    const rt = await start();
    const queue = new Queue(rt.keys.bullQueue('default'), { connection: rt.redis, prefix: rt.keys.prefix });
    await queue.add('test.noop', { payload: {} }, { jobId: 'default.garbled', delay: 60_000, attempts: 2 });
    await rt.redis.hset(rt.keys.job('default', 'default.garbled'), 'data', '{not json');
    // A job whose data cannot even be read is failed by BullMQ itself; it must still settle.
    await rt.redis.multi().zrem(rt.keys.bullKey('default', 'delayed'), 'default.garbled').zadd(rt.keys.bullKey('default', 'failed'), Date.now(), 'default.garbled').exec();

    const report = await rt.sweepRetention();

    expect(report.settled).toBe(1);
    const { entries } = await rt.dlq.list({});
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ jobId: 'default.garbled', rawData: '{not json' });
    await expect(rt.control.replay(entries[0].id)).rejects.toMatchObject({ name: 'ValidationError' });
    expect(await rt.dlq.purge({ type: 'test.noop' })).toBe(1);
    expect((await rt.dlq.list({})).entries).toHaveLength(0);
  });

  it('replays an entry once unless asked again, with an edited payload and a fresh budget', async () => {
    const rt = await start();
    const { id } = await rt.producer.submit({ type: 'test.flaky', payload: { failures: 99 }, retries: 1 });
    const failed = await ended(rt, id);

    const first = await rt.control.replay(failed.dlqEntryId!, { payload: { failures: 1 }, by: 'ops' });
    const second = await rt.control.replay(failed.dlqEntryId!);
    const replayed = await ended(rt, first.jobId);

    expect(second).toEqual({ entryId: failed.dlqEntryId, jobId: first.jobId, duplicate: true });
    expect(replayed).toMatchObject({ state: 'completed', replayOf: failed.dlqEntryId, options: { retries: 1 } });
    expect(replayed.attempts.map((a) => a.outcome)).toEqual(['failed', 'completed']);
    const entry = await rt.dlq.get(failed.dlqEntryId!);
    expect(entry.replays).toEqual([expect.objectContaining({ jobId: first.jobId, by: 'ops', edited: true })]);

    const again = await rt.control.replay(failed.dlqEntryId!, { again: true });
    expect(again.duplicate).toBe(false);
    expect(again.jobId).not.toBe(first.jobId);
    expect((await rt.dlq.get(failed.dlqEntryId!)).replays).toHaveLength(2);
  });

  it('rejects an edited payload that does not match the schema, naming the field', async () => {
    const rt = await start();
    const { id } = await rt.producer.submit({ type: 'test.flaky', payload: { failures: 9 }, retries: 0 });
    const failed = await ended(rt, id);

    const err = await rt.control.replay(failed.dlqEntryId!, { payload: { failures: 'x' } }).catch((e) => e);

    expect(err.name).toBe('ValidationError');
    expect(err.issues[0].field).toBe('payload.failures');
    expect((await rt.dlq.get(failed.dlqEntryId!)).replays).toEqual([]);
  });
});

describe('cancel', () => {
  it('cancels a waiting and a delayed job at once', async () => {
    const rt = await start();
    const delayed = await rt.producer.submit({ type: 'test.noop', payload: {}, delayMs: 60_000 });

    const result = await rt.control.cancel(delayed.id, 'ops');

    expect(result).toEqual({ id: delayed.id, state: 'cancelled' });
    expect(await places(rt, 'default', delayed.id)).toEqual(['cancelled']);
    expect((await rt.jobs.get(delayed.id)).state).toBe('cancelled');
  });

  it('fires the signal of an active job, which ends cancelled, not failed', async () => {
    const rt = await start();
    const { id } = await rt.producer.submit({ type: 'test.sleep', payload: { ms: 10_000 } });
    await waitFor(async () => (await rt.jobs.get(id)).state === 'active');

    const started = Date.now();
    const result = await rt.control.cancel(id);
    const job = await ended(rt, id);

    expect(result.state).toBe('active');
    expect(job.state).toBe('cancelled');
    expect(Date.now() - started).toBeLessThan(5000);
    expect(job.attempts).toEqual([expect.objectContaining({ outcome: 'cancelled', error: expect.objectContaining({ name: 'CancelledError' }) })]);
    expect(await places(rt, 'default', id)).toEqual(['cancelled']);
    expect((await rt.dlq.list({})).entries).toHaveLength(0);
  });

  it('refuses to cancel a completed job', async () => {
    const rt = await start();
    const { id } = await rt.producer.submit({ type: 'test.noop', payload: {} });
    await ended(rt, id);

    await expect(rt.control.cancel(id)).rejects.toMatchObject({ name: 'ConflictError' });
  });
});

describe('retention', () => {
  it('cleans an idle queue on its timer: completed jobs, DLQ entries and cancelled records', async () => {
    runtime = await startTestRuntime({
      config: {
        plugins: { dirs: [FIXTURES] },
        defaults: { backoffMs: 10 },
        retention: { completedAgeMs: 300, dlqAgeMs: 300, cancelledAgeMs: 300, sweepIntervalMs: 200 },
      },
    });
    const rt = runtime;
    const done = await rt.producer.submit({ type: 'test.noop', payload: {} });
    const dead = await rt.producer.submit({ type: 'test.flaky', payload: { failures: 9 }, retries: 0 });
    const cancelled = await rt.producer.submit({ type: 'test.noop', payload: {}, delayMs: 60_000 });
    await rt.control.cancel(cancelled.id);
    await ended(rt, done.id);
    await ended(rt, dead.id);

    // Nothing else happens on the queue from here: only the timer can clean it.
    await waitFor(async () => (await rt.jobs.get(done.id).catch(() => undefined)) === undefined, 5000);
    await waitFor(async () => (await rt.jobs.get(dead.id).catch(() => undefined)) === undefined, 5000);
    await waitFor(async () => (await rt.jobs.get(cancelled.id).catch(() => undefined)) === undefined, 5000);
    expect((await rt.dlq.list({})).entries).toHaveLength(0);
  });
});
