import { createServer, type Server } from 'node:http';
import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/engine/index.ts';
import { startTestRuntime, waitFor } from '../helpers/runtime.ts';

const FAILURES = resolve(import.meta.dirname, '..', 'fixtures', 'failure-plugins');

let runtime: Runtime | undefined;
let target: Target | undefined;
afterEach(async () => {
  await runtime?.stop();
  await target?.close();
  runtime = target = undefined;
});

interface Target {
  url: string;
  hits: number[];
  status: number;
  close(): Promise<void>;
}

/** A local HTTP downstream answering `status` and noting when each request came. */
async function startTarget(status: number): Promise<Target> {
  const t: Target = { url: '', hits: [], status, close: async () => {} };
  const server: Server = createServer((req, res) => {
    t.hits.push(Date.now());
    req.resume();
    res.writeHead(t.status).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  t.close = () => new Promise<void>((r) => server.close(() => r()));
  return t;
}

async function start(breakers: Record<string, number> = {}) {
  runtime = await startTestRuntime({
    config: {
      plugins: { dirs: [FAILURES] },
      defaults: { backoff: { type: 'fixed', delayMs: 100 } },
      outbound: { allow: ['127.0.0.1'] },
      breakers: { failureThreshold: 3, windowMs: 10_000, openMs: 500, deferSpreadMs: 50, ...breakers },
    },
  });
  return runtime;
}

async function ended(rt: Runtime, id: string, timeoutMs = 20_000) {
  return waitFor(async () => {
    const job = await rt.jobs.get(id);
    return ['completed', 'dlq', 'cancelled'].includes(job.state) ? job : undefined;
  }, timeoutMs);
}

describe('circuit breakers', () => {
  it('opens after repeated failures, defers jobs without attempts, probes and closes', async () => {
    target = await startTarget(503);
    const rt = await start();
    const events: string[] = [];
    rt.events.on('breaker.opened', () => events.push('opened'));
    rt.events.on('breaker.closed', () => events.push('closed'));

    // 1. Three failures open it.
    const early = await Promise.all([1, 2, 3].map(() => rt.producer.submit({ type: 'outage.call', payload: { url: target!.url }, retries: 5 })));
    await waitFor(async () => (await rt.breakers.state('local-target')).state === 'open');
    const openedAt = Date.now();

    // 2. Jobs arriving now wait without reaching the target, except the breaker's probes.
    const late = await Promise.all([1, 2, 3, 4, 5].map(() => rt.producer.submit({ type: 'outage.call', payload: { url: target!.url }, retries: 5 })));
    await new Promise((r) => setTimeout(r, 1600));
    const hitsWhileOpen = target.hits.filter((t) => t > openedAt + 50);
    expect(hitsWhileOpen.length).toBeGreaterThanOrEqual(1);
    expect(hitsWhileOpen.length).toBeLessThanOrEqual(4);

    // 3. The downstream recovers: the next probe closes the breaker and every job runs.
    target.status = 200;
    const jobs = await Promise.all([...early, ...late].map((j) => ended(rt, j.id)));

    expect(jobs.map((j) => j.state)).toEqual(Array(8).fill('completed'));
    expect(events).toEqual(['opened', 'closed']);
    for (const job of jobs.slice(3)) {
      // Deferred jobs used no retry: nothing but probes that failed, recorded as deferred.
      expect(job.attempts.filter((a) => a.outcome === 'failed')).toEqual([]);
    }
    expect((await rt.breakers.state('local-target')).state).toBe('closed');
  });

  it('does not count permanent errors against the downstream', async () => {
    target = await startTarget(404);
    const rt = await start();

    const jobs = await Promise.all([1, 2, 3, 4].map(() => rt.producer.submit({ type: 'outage.call', payload: { url: target!.url, permanentOn4xx: true } })));
    const done = await Promise.all(jobs.map((j) => ended(rt, j.id)));

    expect(done.map((j) => j.reason)).toEqual(Array(4).fill('http_404'));
    expect((await rt.breakers.state('local-target')).state).toBe('closed');
  });
});

describe('fallbacks', () => {
  it('submits the fallback job type when retries are exhausted, and shows it in the history', async () => {
    const rt = await start();
    const { id } = await rt.producer.submit({ type: 'outage.primary', payload: { to: '+15550100' } });

    const job = await ended(rt, id);

    expect(job.state).toBe('completed');
    expect(job.attempts).toHaveLength(2);
    const fallback = job.attempts[1].fallback!;
    expect(fallback).toMatchObject({ kind: 'job', type: 'outage.secondary', reason: 'retries_exhausted' });
    const secondary = await ended(rt, fallback.jobId!);
    expect(secondary).toMatchObject({ state: 'completed', type: 'outage.secondary', result: { delivered: { to: '+15550100', because: 'retries_exhausted' } } });
  });

  it('runs a fallback function after a permanent error; the job completes with its result', async () => {
    const rt = await start();
    const { id } = await rt.producer.submit({ type: 'outage.with-function', payload: { to: 'nobody' } });

    const job = await ended(rt, id);

    expect(job).toMatchObject({ state: 'completed', result: { fallback: { kind: 'function', result: { loggedFor: 'nobody', reason: 'unknown_address' } } } });
    expect(job.attempts).toEqual([expect.objectContaining({ outcome: 'failed', fallback: expect.objectContaining({ kind: 'function' }) })]);
  });

  it('falls back when the breaker keeps a job back past its limit', async () => {
    target = await startTarget(503);
    const rt = await start({ openMs: 60_000 });
    await Promise.all([1, 2, 3].map(() => rt.producer.submit({ type: 'outage.call', payload: { url: target!.url }, retries: 0 })));
    await waitFor(async () => (await rt.breakers.state('local-target')).state === 'open');
    const hits = target.hits.length;

    const { id } = await rt.producer.submit({ type: 'outage.guarded', payload: { url: target.url } });
    const job = await ended(rt, id, 10_000);

    expect(job).toMatchObject({ state: 'completed', result: { fallback: { kind: 'function', result: { parked: true } } } });
    expect(job.attempts).toEqual([expect.objectContaining({ error: expect.objectContaining({ name: 'BreakerOpenError' }), fallback: expect.objectContaining({ reason: 'breaker_open' }) })]);
    expect(target.hits.length).toBe(hits);
  });
});
