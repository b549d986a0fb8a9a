import { resolve } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { Runtime } from '../../src/engine/index.ts';
import { startTestRuntime, uniquePrefix, waitFor } from '../helpers/runtime.ts';
import { startServer } from '../helpers/server.ts';

const FIXTURES = resolve(import.meta.dirname, '..', 'fixtures', 'plugins');

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** Pids of the worker processes whose heartbeat is in Redis. */
async function workerPids(reader: Runtime): Promise<number[]> {
  const info = await reader.redis.hgetall(reader.keys.workerInfo());
  return Object.values(info).map((raw) => JSON.parse(raw).pid as number);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('taskmaster worker --processes N', () => {
  it('runs jobs in N processes, replaces one that dies, and drains them all on SIGTERM', async () => {
    const prefix = uniquePrefix();
    // One job at a time per process, so that the jobs must spread over both.
    const config = {
      redis: { url: inject('redisUrl'), prefix, allowEviction: true },
      plugins: { dirs: [FIXTURES] },
      queues: { default: { concurrency: 1 } },
    };
    const supervisor = await startServer({ role: 'worker', args: ['--processes', '2'], config });
    cleanups.push(() => supervisor.stop('SIGKILL'));
    const reader = await startTestRuntime({ workers: false, config: { redis: { prefix }, plugins: { dirs: [FIXTURES] } } });
    cleanups.push(() => reader.stop());

    // 1. Two processes, neither of them the supervisor, both running jobs.
    const pids = await waitFor(async () => {
      const found = await workerPids(reader);
      return found.length === 2 ? found : undefined;
    }, 120_000);
    expect(pids).not.toContain(supervisor.process.pid);
    const jobs = await Promise.all(
      Array.from({ length: 8 }, () => reader.producer.submit({ type: 'test.sleep', payload: { ms: 400 } })),
    );
    const ran = await waitFor(async () => {
      const views = await Promise.all(jobs.map((j) => reader.jobs.get(j.id)));
      return views.every((v) => v.state === 'completed') ? views : undefined;
    }, 30_000);
    const ranOn = new Set(ran.map((v) => v.attempts[0].worker.split(':')[1]));
    expect(ranOn).toEqual(new Set(pids.map(String)));

    // 2. A child killed outright is started again.
    process.kill(pids[0], 'SIGKILL');
    const replacement = await waitFor(async () => {
      const found = await workerPids(reader);
      return found.find((pid) => !pids.includes(pid));
    }, 30_000);
    expect(isAlive(replacement)).toBe(true);

    // 3. SIGTERM drains every child and the supervisor exits 0.
    expect(await supervisor.stop('SIGTERM')).toBe(0);
    expect(isAlive(pids[1])).toBe(false);
    expect(isAlive(replacement)).toBe(false);
  }, 240_000);
});
