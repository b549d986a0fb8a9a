import { Queue, type Job } from 'bullmq';
import type { Runtime } from '../../../src/engine/index.ts';

/** A clock the test moves by hand. */
export class ManualClock {
  constructor(public ms: number) {}

  now(): number {
    return this.ms;
  }

  set(iso: string): void {
    this.ms = Date.parse(iso);
  }
}

/** Every job of the `default` queue, read with BullMQ directly. */
export async function jobsOf(runtime: Runtime, queue = 'default'): Promise<Job[]> {
  const q = new Queue(runtime.keys.bullQueue(queue), { connection: runtime.redis, prefix: runtime.keys.prefix });
  try {
    return await q.getJobs(['waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed']);
  } finally {
    await q.close();
  }
}

/** The slots (ISO times) of the jobs a schedule produced, sorted. */
export async function producedSlots(runtime: Runtime, name: string): Promise<string[]> {
  const prefix = `schedule:${name}:`;
  const jobs = await jobsOf(runtime);
  return jobs
    .map((j) => j.data?.idempotencyKey as string | undefined)
    .filter((k): k is string => Boolean(k?.startsWith(prefix)))
    .map((k) => new Date(Number(k.slice(prefix.length))).toISOString())
    .sort();
}

/** Waits until every job of the `default` queue has finished. */
export async function settle(runtime: Runtime): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const jobs = await jobsOf(runtime);
    const states = await Promise.all(jobs.map((j) => j.getState()));
    if (states.every((s) => s === 'completed' || s === 'failed')) return;
    if (Date.now() > deadline) throw new Error(`jobs not finished: ${states.join(', ')}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
