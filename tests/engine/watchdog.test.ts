import { resolve } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { Runtime } from '../../src/engine/index.ts';
import { startTestRuntime, waitFor } from '../helpers/runtime.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';

const FIXTURES = resolve(import.meta.dirname, '..', 'fixtures', 'plugins');

let runtime: Runtime | undefined;
let proxy: TcpProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  await runtime?.stop();
  runtime = proxy = undefined;
});

/** A runtime whose connections all pass through a proxy that can black-hole them. */
async function startBehindProxy(watchdogIntervalMs: number) {
  const redisPort = Number(new URL(inject('redisUrl')).port);
  proxy = await startTcpProxy(redisPort);
  runtime = await startTestRuntime({
    redisUrl: `redis://127.0.0.1:${proxy.port}`,
    config: { plugins: { dirs: [FIXTURES] }, worker: { watchdogIntervalMs, drainTimeoutMs: 500 } },
  });
  return { runtime, proxy };
}

/** Black-holes the worker's connections, leaving the process's command connection alive. */
function freezeWorkerConnections(proxy: TcpProxy): number {
  return proxy.freeze((opening) => !opening.includes('taskmaster:command'));
}

describe('worker connection watchdog', () => {
  it('a black-holed worker connection leaves jobs waiting when nothing watches it', async () => {
    const { runtime, proxy } = await startBehindProxy(600_000);
    expect(freezeWorkerConnections(proxy)).toBeGreaterThanOrEqual(2);

    const { id } = await runtime.producer.submit({ type: 'test.noop', payload: {} });
    await new Promise((r) => setTimeout(r, 5000));

    expect((await runtime.jobs.get(id)).state).toBe('waiting');
  });

  it('replaces a worker whose connection went silent, and its jobs run', async () => {
    const { runtime, proxy } = await startBehindProxy(1000);
    expect(freezeWorkerConnections(proxy)).toBeGreaterThanOrEqual(2);

    const { id } = await runtime.producer.submit({ type: 'test.noop', payload: { n: 1 } });

    const job = await waitFor(async () => {
      const j = await runtime.jobs.get(id);
      return j.state === 'completed' ? j : undefined;
    }, 30_000);
    expect(job.result).toEqual({ echoed: { n: 1 } });
    expect(runtime.workerPool!.running).toBe(true);
  });
});
