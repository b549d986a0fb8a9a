import { afterAll, describe, expect, inject, it } from 'vitest';
import { waitFor } from '../helpers/runtime.ts';
import { api } from '../helpers/server.ts';
import { chaosScale, Fleet, report, CHAOS_TIMEOUT_MS } from './fleet.ts';

const scale = chaosScale();
// Locks far shorter than the blocking, and two workers whose stalled checks look every second.
const fleet = new Fleet(inject('redisUrl'), { worker: { lockDurationMs: 2500, stalledIntervalMs: 1000 } });
// A handler that never gives the loop back, far past its timeout.
const stuckFleet = new Fleet(inject('redisUrl'), { worker: { lockDurationMs: 1500, stalledIntervalMs: 500 } });
afterAll(() => Promise.all([fleet.stop(), stuckFleet.stop()]));

describe('chaos: a handler blocking the event loop past the lock time', () => {
  it('runs each job once, inline or isolated, while other workers check for stalled jobs', async () => {
    const perKind = 2 * scale;
    const apiServer = await fleet.start('api');
    const workers = await Promise.all([fleet.start('worker'), fleet.start('worker')]);
    const submit = async (type: string, i: number) => {
      const res = await api(apiServer, 'POST', '/api/v1/jobs', { type, payload: { ms: 6000 }, idempotencyKey: `${type}-${i}`, retries: 5 });
      expect(res.status).toBe(202);
      return res.body.id as string;
    };

    // Interleaved, so that inline and isolated jobs share processes: an inline handler blocks
    // the loop that every job of its process would otherwise need to renew its lock.
    const inline: string[] = [];
    const isolated: string[] = [];
    for (let i = 0; i < perKind; i++) {
      inline.push(await submit('chaos.block-inline', i));
      isolated.push(await submit('chaos.block', i));
    }
    const accepted = [...inline, ...isolated];
    await waitFor(() => fleet.settled(accepted), 120_000 * scale, 500);

    const reader = await fleet.runtime();
    const runsOf = async (ids: string[]) => Promise.all(ids.map((id) => reader.redis.llen(`${fleet.prefix}:chaos:runs:${id}`)));
    const inlineRuns = await runsOf(inline);
    const isolatedRuns = await runsOf(isolated);
    const counts = await fleet.tally(accepted, new Set());
    report('event-loop-block', {
      ...counts,
      inlineRuns: inlineRuns.reduce((a, b) => a + b, 0),
      isolatedRuns: isolatedRuns.reduce((a, b) => a + b, 0),
    });

    expect(counts.completed).toBe(accepted.length);
    expect(counts.lost).toBe(0);
    expect(counts.runTwice).toBe(0);
    expect(inlineRuns).toEqual(inline.map(() => 1));
    expect(isolatedRuns).toEqual(isolated.map(() => 1));
    // Blocked, not recycled: the workers that ran them are still up.
    for (const worker of workers) expect(worker.process.exitCode).toBeNull();
  }, CHAOS_TIMEOUT_MS);

  it('ends a worker whose loop stays blocked past the job timeout; the job is not left active', async () => {
    const apiServer = await stuckFleet.start('api');
    const stuck = await stuckFleet.start('worker');
    const exited = new Promise<NodeJS.Signals | null>((resolve) => stuck.process.once('exit', (_code, signal) => resolve(signal)));
    const res = await api(apiServer, 'POST', '/api/v1/jobs', {
      type: 'chaos.block-inline',
      payload: { ms: 600_000 },
      timeoutMs: 1000,
      retries: 0,
    });
    expect(res.status).toBe(202);
    const id = res.body.id as string;

    // The lock keeper gives up after the timeout plus a lock time and ends the process.
    expect(await exited).toBe('SIGKILL');
    expect(stuck.output()).toContain('event loop blocked past the job timeout');

    // Another worker takes the job for stalled; the lost run counts as its one attempt.
    await stuckFleet.start('worker');
    await waitFor(() => stuckFleet.settled([id]), 60_000, 200);
    const counts = await stuckFleet.tally([id], new Set([stuck.process.pid!]));
    report('event-loop-stuck', { ...counts, recycled: 1 });
    expect(counts.inDlq).toBe(1);
    expect(counts.runTwice).toBe(0);
    const job = await (await stuckFleet.runtime()).jobs.get(id);
    expect(job.attempts.map((a) => a.error?.name)).toEqual(['WorkerLostError']);
  }, CHAOS_TIMEOUT_MS);
});
