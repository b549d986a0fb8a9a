import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/engine/index.ts';
import { trackProcess } from '../helpers/cleanup.ts';
import { startTestRuntime, waitFor } from '../helpers/runtime.ts';

const FIXTURES = resolve(import.meta.dirname, '..', 'fixtures');
const JOBS = 300;

let runtimes: Runtime[] = [];

afterEach(async () => {
  for (const rt of runtimes) await rt.stop();
  runtimes = [];
});

describe('chaos: a dispatching process killed with SIGKILL', () => {
  it('loses no job and runs none twice', async () => {
    // 1. Jobs of every class and three tenants, held for the dispatcher.
    const producer = await startTestRuntime({ workers: false, config: { plugins: { builtins: false, dirs: [resolve(FIXTURES, 'plugins')] } } });
    runtimes.push(producer);
    const classes = ['critical', 'high', 'normal', 'low'];
    const jobs = Array.from({ length: JOBS }, (_, i) => ({ type: 'test.noop', payload: { n: i }, priority: classes[i % 4], tenant: `t${i % 3}` }));
    const ids = (await producer.producer.submitBulk(jobs)).map((j) => j.id);

    // 2. A process that does nothing but dispatch, killed while at it.
    const child = spawn(process.execPath, ['--import', 'tsx', resolve(FIXTURES, 'fair', 'dispatch-loop.ts'), producer.redisUrl, producer.keys.prefix], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    trackProcess(child.pid);
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    await waitFor(() => (output.match(/round/g)?.length ?? 0) >= 20, 60_000, 5);
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;

    // 3. Every job is in exactly one place: handed over (wait) or still held (delayed).
    const waiting = await producer.redis.lrange(producer.keys.bullKey('default', 'wait'), 0, -1);
    const held = await producer.redis.zrange(producer.keys.bullKey('default', 'delayed'), 0, -1);
    expect(waiting.length).toBeGreaterThan(0);
    expect(held.length).toBeGreaterThan(0);
    expect(new Set([...waiting, ...held]).size).toBe(waiting.length + held.length);
    expect([...waiting, ...held].sort()).toEqual([...ids].sort());

    // 4. A worker then runs each job exactly once.
    const worker = await startTestRuntime({
      workers: true,
      redisUrl: producer.redisUrl,
      config: { redis: { prefix: producer.keys.prefix }, plugins: { builtins: false, dirs: [resolve(FIXTURES, 'plugins')] } },
    });
    runtimes.push(worker);
    const runs = new Map<string, number>();
    worker.events.on('attempt.started', (e) => runs.set(e.jobId, (runs.get(e.jobId) ?? 0) + 1));
    await waitFor(async () => (await worker.metrics.depths()).default.completed === JOBS, 60_000, 50);
    expect(runs.size).toBe(JOBS);
    expect([...runs.values()].every((n) => n === 1)).toBe(true);
  }, 120_000);
});
