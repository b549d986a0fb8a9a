import { afterEach, describe, expect, it } from 'vitest';
import type { Runtime } from '../../../src/engine/index.ts';
import { startTestRuntime, waitFor } from '../../helpers/runtime.ts';
import { finished } from '../support.ts';

let runtime: Runtime | undefined;
afterEach(async () => {
  await runtime?.stop();
  runtime = undefined;
});

async function start(config: Record<string, unknown> = {}) {
  runtime = await startTestRuntime({ config: { defaults: { backoffMs: 50 }, ...config } });
  return runtime;
}

describe('notify.inapp', () => {
  it('stores a notification per user, newest first, unread', async () => {
    const rt = await start();

    const a = await rt.producer.submit({ type: 'notify.inapp', payload: { userId: 'u-1', title: 'First' } });
    await finished(rt, a.id);
    const b = await rt.producer.submit({ type: 'notify.inapp', payload: { userId: 'u-1', title: 'Second', data: { orderId: 7 } } });
    const job = await finished(rt, b.id);

    expect(job.state).toBe('completed');
    const page = await rt.inbox.list('u-1', { limit: 10 });
    expect(page.unread).toBe(2);
    expect(page.notifications.map((n) => [n.title, n.read])).toEqual([
      ['Second', false],
      ['First', false],
    ]);
    expect(page.notifications[0]).toMatchObject({ id: `n_${b.id}`, userId: 'u-1', data: { orderId: 7 } });
    expect((await rt.inbox.list('someone-else', { limit: 10 })).notifications).toEqual([]);
  });

  it('keeps only the newest notifications beyond the per-user limit, and marks read', async () => {
    const rt = await start({ notifications: { perUserLimit: 3 } });

    for (let i = 1; i <= 5; i++) {
      const { id } = await rt.producer.submit({ type: 'notify.inapp', payload: { userId: 'u-2', title: `n${i}`, id: `id-${i}` } });
      await finished(rt, id);
    }
    expect(await rt.inbox.markRead('u-2', ['id-5', 'id-1'])).toBe(1);

    const page = await rt.inbox.list('u-2', { limit: 10 });
    expect(page.notifications.map((n) => [n.id, n.read])).toEqual([
      ['id-5', true],
      ['id-4', false],
      ['id-3', false],
    ]);
    expect(page.unread).toBe(2);
    expect((await rt.inbox.list('u-2', { limit: 10, unreadOnly: true })).notifications.map((n) => n.id)).toEqual(['id-4', 'id-3']);
    expect(await rt.inbox.markRead('u-2', 'all')).toBe(2);
    expect((await rt.inbox.list('u-2', { limit: 10 })).unread).toBe(0);
  });

  it('does not store the same notification id twice', async () => {
    const rt = await start();

    for (const title of ['once', 'twice']) {
      const { id } = await rt.producer.submit({ type: 'notify.inapp', payload: { userId: 'u-3', title, id: 'same' } });
      const job = await finished(rt, id);
      expect(job.result).toMatchObject({ stored: title === 'once' });
    }

    const page = await rt.inbox.list('u-3', { limit: 10 });
    expect(page.notifications.map((n) => n.title)).toEqual(['once']);
  });

  it('retries when Redis refuses the write, then stores it once', async () => {
    const rt = await start();
    const keys = rt.keys.inbox('u-4');
    // A key of the wrong type makes the store's script fail with a real Redis error.
    await rt.redis.set(keys.items, 'not a hash');

    const { id } = await rt.producer.submit({ type: 'notify.inapp', payload: { userId: 'u-4', title: 'Hello' }, retries: 5 });
    const failedOnce = await waitForAttempts(rt, id, 1);
    expect(failedOnce.attempts[0].error?.message).toMatch(/WRONGTYPE/);
    await rt.redis.del(keys.items);
    const job = await finished(rt, id);

    expect(job.state).toBe('completed');
    expect(job.attempts[0].error?.name).not.toBe('PermanentError');
    expect((await rt.inbox.list('u-4', { limit: 10 })).notifications).toHaveLength(1);
  });

  it('fails for good, once, on a notification over the configured size', async () => {
    const rt = await start({ plugins: { settings: { inapp: { maxBytes: 256 } } } });

    const { id } = await rt.producer.submit({ type: 'notify.inapp', payload: { userId: 'u-5', title: 'Big', body: 'x'.repeat(500) } });
    const job = await finished(rt, id);

    expect(job.state).toBe('dlq');
    expect(job.attempts).toHaveLength(1);
    expect(job.attempts[0].error?.name).toBe('PermanentError');
    expect((await rt.inbox.list('u-5', { limit: 10 })).notifications).toHaveLength(0);
  });

  it('rejects a user id with braces at submission, naming the field', async () => {
    const rt = await start();

    const err = await rt.producer.submit({ type: 'notify.inapp', payload: { userId: '{x}', title: 't' } }).catch((e) => e);

    expect(err.name).toBe('ValidationError');
    expect(err.issues[0].field).toBe('payload.userId');
  });
});

async function waitForAttempts(rt: Runtime, id: string, count: number) {
  return waitFor(async () => {
    const job = await rt.jobs.get(id);
    return job.attempts.length >= count ? job : undefined;
  });
}
