import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, Producer, ScheduleEngine, type Runtime } from '../../../src/engine/index.ts';
import { QueueSet } from '../../../src/engine/queues.ts';
import { startTestRuntime, waitFor } from '../../helpers/runtime.ts';
import { jobsOf, ManualClock, producedSlots, settle } from './clock.ts';

const FIXTURES = resolve(import.meta.dirname, '..', '..', 'fixtures', 'plugins');
const MINUTE = 60_000;

let runtime: Runtime | undefined;
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
  await runtime?.stop();
  runtime = undefined;
});

/** Starts a runtime whose schedule loop does not run: the test ticks by hand. */
async function start(clock: ManualClock, workers = true) {
  runtime = await startTestRuntime({
    workers,
    clock,
    config: { plugins: { dirs: [FIXTURES] }, scheduler: { enabled: false, graceMs: 10 * MINUTE } },
  });
  return runtime;
}

/** A schedule engine as another process would run it: its own connection, producer and queues. */
function otherProcess(rt: Runtime, clock: ManualClock): ScheduleEngine {
  const redis = new Redis(rt.redisUrl, { maxRetriesPerRequest: 1 });
  const queues = new QueueSet(redis, rt.keys, Object.keys(rt.config.queues));
  closers.push(async () => {
    await queues.close();
    redis.disconnect();
  });
  const producer = new Producer(rt.config, rt.registry, queues, redis, rt.keys);
  return new ScheduleEngine({ redis, keys: rt.keys, producer, queues, log: createLogger('silent'), clock, tickMs: 1000, graceMs: 10 * MINUTE });
}

describe('schedule engine', () => {
  it('leaves one schedule and one run per slot through a restart storm', async () => {
    const clock = new ManualClock(Date.parse('2026-05-01T10:00:30Z'));
    const rt = await start(clock);
    const configured = { nightly: { cron: '* * * * *', type: 'test.noop', payload: { n: 1 } } };
    await rt.schedules.applyConfigured(configured);

    for (const minute of ['10:01:02', '10:02:05', '10:03:01']) {
      // Six processes start at once, each writing the configured schedule and ticking.
      clock.set(`2026-05-01T${minute}Z`);
      const engines = Array.from({ length: 6 }, () => otherProcess(rt, clock));
      await Promise.all(engines.map((e) => e.applyConfigured(configured)));
      await Promise.all(engines.flatMap((e) => [e.tick(), e.tick()]));
      await settle(rt);
    }

    const schedules = await rt.schedules.list();
    expect(schedules.map((s) => s.name)).toEqual(['nightly']);
    expect(schedules[0].version).toBe(1);
    expect(schedules[0].state?.runs).toBe(3);
    expect(await producedSlots(rt, 'nightly')).toEqual([
      '2026-05-01T10:01:00.000Z',
      '2026-05-01T10:02:00.000Z',
      '2026-05-01T10:03:00.000Z',
    ]);
    expect(await jobsOf(rt)).toHaveLength(3);
  });

  it('replaces the old pattern completely when it changes', async () => {
    const clock = new ManualClock(Date.parse('2026-05-01T10:00:30Z'));
    const rt = await start(clock);
    await rt.schedules.put('report', { cron: '*/10 * * * *', type: 'test.noop' });

    clock.set('2026-05-01T10:10:01Z');
    await rt.schedules.tick();
    await settle(rt);
    clock.set('2026-05-01T10:12:00Z');
    const { schedule } = await rt.schedules.put('report', { cron: '*/15 * * * *', type: 'test.noop' });
    for (const at of ['10:20:00', '10:20:30', '10:29:59', '10:30:00', '10:40:00', '10:45:00']) {
      clock.set(`2026-05-01T${at}Z`);
      await rt.schedules.tick();
      await settle(rt);
    }

    expect(schedule.version).toBe(2);
    expect(schedule.nextRunAt).toBe(Date.parse('2026-05-01T10:15:00Z'));
    expect(await rt.schedules.list()).toHaveLength(1);
    expect(await producedSlots(rt, 'report')).toEqual([
      '2026-05-01T10:10:00.000Z',
      '2026-05-01T10:15:00.000Z', // the new pattern's first slot; never 10:20 or 10:40
      '2026-05-01T10:30:00.000Z',
      '2026-05-01T10:45:00.000Z',
    ]);
  });

  it('writing an identical schedule again changes nothing', async () => {
    const clock = new ManualClock(Date.parse('2026-05-01T10:00:30Z'));
    const rt = await start(clock);
    const spec = { everyMs: MINUTE, type: 'test.noop', payload: { n: 2 } };

    const first = await rt.schedules.put('same', spec);
    clock.set('2026-05-01T10:05:00Z');
    const second = await rt.schedules.put('same', spec);

    expect(first.changed).toBe(true);
    expect(second.changed).toBe(false);
    expect(second.schedule.version).toBe(1);
    expect(second.schedule.createdAt).toBe(Date.parse('2026-05-01T10:00:30Z'));
  });

  it('runs a daily 02:30 once on the fall-back day, at its first occurrence', async () => {
    const clock = new ManualClock(Date.parse('2026-10-24T20:00:00Z'));
    const rt = await start(clock);
    await rt.schedules.put('dst', { cron: '30 2 * * *', timezone: 'Europe/Berlin', type: 'test.noop' });

    // Every five minutes from 22:00 to 06:00 local time; 02:00-03:00 happens twice that night.
    for (let t = Date.parse('2026-10-24T20:00:00Z'); t <= Date.parse('2026-10-25T05:00:00Z'); t += 5 * MINUTE) {
      clock.ms = t;
      await rt.schedules.tick();
    }

    expect(await producedSlots(rt, 'dst')).toEqual(['2026-10-25T00:30:00.000Z']); // 02:30 CEST
  });

  it('runs a daily 02:30 once on the spring-forward day, at 03:00 when 02:30 does not exist', async () => {
    const clock = new ManualClock(Date.parse('2026-03-28T20:00:00Z'));
    const rt = await start(clock);
    await rt.schedules.put('dst', { cron: '30 2 * * *', timezone: 'Europe/Berlin', type: 'test.noop' });

    for (let t = Date.parse('2026-03-28T20:00:00Z'); t <= Date.parse('2026-03-29T05:00:00Z'); t += 5 * MINUTE) {
      clock.ms = t;
      await rt.schedules.tick();
    }

    expect(await producedSlots(rt, 'dst')).toEqual(['2026-03-29T01:00:00.000Z']); // 03:00 CEST
  });

  it('applies each missed-run policy to the slots that passed while down', async () => {
    const clock = new ManualClock(Date.parse('2026-05-01T10:00:30Z'));
    const rt = await start(clock);
    const hourly = { cron: '0 * * * *', type: 'test.noop' };
    await rt.schedules.put('skip', { ...hourly, missedRuns: { policy: 'skip' } });
    await rt.schedules.put('once', { ...hourly, missedRuns: { policy: 'once' } });
    await rt.schedules.put('all', { ...hourly, missedRuns: { policy: 'all', limit: 3 } });

    // Down from 10:00:30 to 14:30: the 11:00 to 14:00 slots were missed.
    clock.set('2026-05-01T14:30:00Z');
    await rt.schedules.tick();
    await settle(rt);
    // Back in time for the 15:00 slot; `all` works through its backlog one run at a time.
    clock.set('2026-05-01T15:00:02Z');
    await rt.schedules.tick();
    while ((await rt.schedules.get('all'))?.state?.backlog) {
      await settle(rt);
      await rt.schedules.tick();
    }

    expect(await producedSlots(rt, 'skip')).toEqual(['2026-05-01T15:00:00.000Z']);
    expect(await producedSlots(rt, 'once')).toEqual(['2026-05-01T14:00:00.000Z', '2026-05-01T15:00:00.000Z']);
    expect(await producedSlots(rt, 'all')).toEqual([
      '2026-05-01T12:00:00.000Z',
      '2026-05-01T13:00:00.000Z',
      '2026-05-01T14:00:00.000Z',
      '2026-05-01T15:00:00.000Z',
    ]);
    const skip = await rt.schedules.get('skip');
    expect(skip?.state?.skippedSlots).toBe(4);
  });

  it.each(['skip', 'queue'] as const)('runs the missed slots of `all` one after another, in slot order (overlap %s)', async (overlap) => {
    const clock = new ManualClock(Date.parse('2026-05-01T10:00:30Z'));
    const rt = await start(clock);
    await rt.schedules.put('catch-up', { cron: '0 * * * *', type: 'test.sleep', payload: { ms: 200 }, overlap, missedRuns: { policy: 'all', limit: 3 } });

    // Down until 14:30: 12:00, 13:00 and 14:00 are made up for; ticks keep coming meanwhile.
    clock.set('2026-05-01T14:30:00Z');
    const seen: number[] = [];
    await waitFor(async () => {
      await rt.schedules.tick();
      const jobs = await jobsOf(rt);
      const states = await Promise.all(jobs.map((j) => j.getState()));
      seen.push(states.filter((s) => s !== 'completed').length);
      return jobs.length === 3 && states.every((s) => s === 'completed');
    }, 15_000, 50);

    // Never two at once, and each started after the one before it had finished.
    expect(Math.max(...seen)).toBe(1);
    const jobs = (await jobsOf(rt)).sort((a, b) => a.data.idempotencyKey.localeCompare(b.data.idempotencyKey));
    expect(await producedSlots(rt, 'catch-up')).toEqual(['2026-05-01T12:00:00.000Z', '2026-05-01T13:00:00.000Z', '2026-05-01T14:00:00.000Z']);
    for (let i = 1; i < jobs.length; i++) expect(jobs[i].processedOn!).toBeGreaterThanOrEqual(jobs[i - 1].finishedOn!);
    const state = (await rt.schedules.get('catch-up'))?.state;
    expect(state).toMatchObject({ runs: 3, skippedSlots: 1 });
    expect(state?.backlog).toBeUndefined();
  });

  it('carries the schedule options to every job it produces', async () => {
    const clock = new ManualClock(Date.parse('2026-05-01T10:00:30Z'));
    const rt = await start(clock);
    await rt.schedules.put('opts', {
      everyMs: MINUTE,
      type: 'test.noop',
      payload: { n: 5 },
      options: { retries: 7, timeoutMs: 4321, priority: 'high', tenant: 'acme', retention: { completedAgeMs: 5000, failedAgeMs: 9000 } },
    });

    for (const at of ['10:01:31', '10:02:31']) {
      clock.set(`2026-05-01T${at}Z`);
      await rt.schedules.tick();
      await settle(rt);
    }

    const jobs = await jobsOf(rt);
    expect(jobs).toHaveLength(2);
    for (const job of jobs) {
      const view = await rt.jobs.get(job.id!);
      expect(view.payload).toEqual({ n: 5 });
      expect(view.options).toMatchObject({ retries: 7, timeoutMs: 4321, priority: 'high', tenant: 'acme' });
      expect(view.submittedBy).toBe('schedule:opts');
      // The job's own retention, honoured by the sweeps (BullMQ's age trim would apply it to the whole set).
      expect(JSON.parse((await rt.redis.hget(rt.keys.job('default', job.id!), 'tm_retention'))!)).toEqual({ completedAgeMs: 5000, failedAgeMs: 9000 });
      // Failed jobs move to the DLQ; BullMQ never drops them on its own.
      expect(job.opts.removeOnFail).toBe(false);
    }
  });

  it('skips a slot that comes while the previous run is still going', async () => {
    const clock = new ManualClock(Date.parse('2026-05-01T10:00:30Z'));
    const rt = await start(clock);
    await rt.schedules.put('slow', { everyMs: MINUTE, type: 'test.sleep', payload: { ms: 1500 }, overlap: 'skip' });

    clock.set('2026-05-01T10:01:31Z');
    await rt.schedules.tick();
    clock.set('2026-05-01T10:02:31Z');
    await rt.schedules.tick();
    const [first] = await jobsOf(rt);
    await waitFor(async () => (await rt.jobs.get(first.id!)).state === 'completed');
    clock.set('2026-05-01T10:03:31Z');
    await rt.schedules.tick();

    expect(await producedSlots(rt, 'slow')).toEqual(['2026-05-01T10:01:30.000Z', '2026-05-01T10:03:30.000Z']);
    expect((await rt.schedules.get('slow'))?.state?.skippedSlots).toBe(1);
  });

  it('queues one run for when the previous one ends', async () => {
    const clock = new ManualClock(Date.parse('2026-05-01T10:00:30Z'));
    const rt = await start(clock);
    await rt.schedules.put('slow', { everyMs: MINUTE, type: 'test.sleep', payload: { ms: 1500 }, overlap: 'queue' });

    clock.set('2026-05-01T10:01:31Z');
    await rt.schedules.tick();
    clock.set('2026-05-01T10:02:31Z');
    await rt.schedules.tick();
    const before = await producedSlots(rt, 'slow');
    const [first] = await jobsOf(rt);
    await waitFor(async () => (await rt.jobs.get(first.id!)).state === 'completed');
    await rt.schedules.tick();

    expect(before).toEqual(['2026-05-01T10:01:30.000Z']);
    expect(await producedSlots(rt, 'slow')).toEqual(['2026-05-01T10:01:30.000Z', '2026-05-01T10:02:30.000Z']);
    expect((await rt.schedules.get('slow'))?.state?.queuedSlot).toBeUndefined();
  });

  it('stores the runs a process claimed before it died', async () => {
    const clock = new ManualClock(Date.parse('2026-05-01T10:00:30Z'));
    const rt = await start(clock);
    await rt.schedules.put('claimed', { everyMs: MINUTE, type: 'test.noop' });

    // A process claimed the 10:01:30 slot, then died before storing its job.
    const stored = await rt.schedules.store.get('claimed');
    const slot = Date.parse('2026-05-01T10:01:30Z');
    const claimed = { ...stored!.state!, handledUntil: slot + 1000, pending: { slots: [slot], at: slot + 1000 } };
    expect((await rt.schedules.store.compareAndSet('claimed', stored!.rawState, claimed)).ok).toBe(true);

    clock.set('2026-05-01T10:01:35Z');
    await rt.schedules.tick();
    const whileFresh = await producedSlots(rt, 'claimed');
    clock.set('2026-05-01T10:01:50Z');
    await rt.schedules.tick();

    expect(whileFresh).toEqual([]);
    expect(await producedSlots(rt, 'claimed')).toEqual(['2026-05-01T10:01:30.000Z']);
    const state = (await rt.schedules.get('claimed'))?.state;
    expect(state?.pending).toBeUndefined();
    expect(state?.runs).toBe(1);
  });

  it('refuses to start with an invalid configured schedule, naming it', async () => {
    const starting = startTestRuntime({
      workers: false,
      config: { scheduler: { enabled: false }, schedules: { nightly: { cron: '0 3 * * *', type: 'no.such' } } },
    });

    await expect(starting).rejects.toThrow(/schedules\.nightly\.type: unknown job type no\.such/);
  });

  it('names the field of an invalid schedule', async () => {
    const rt = await start(new ManualClock(Date.now()));

    const bad = (spec: unknown) => rt.schedules.put('bad', spec).catch((err) => err.issues.map((i: { field: string }) => i.field));

    expect(await bad({ cron: '61 * * * *', type: 'test.noop' })).toEqual(['cron']);
    expect(await bad({ cron: '* * * * *', type: 'no.such' })).toEqual(['type']);
    expect(await bad({ cron: '* * * * *', timezone: 'Mars/Base', type: 'test.noop' })).toEqual(['timezone']);
    expect(await bad({ everyMs: 5000, type: 'test.sleep', payload: {} })).toEqual(['payload.ms']);
    expect(await bad({ everyMs: 5000, cron: '* * * * *', type: 'test.noop' })).toEqual(['cron']);
    expect(await rt.schedules.list()).toEqual([]);
  });
});
