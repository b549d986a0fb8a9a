import { resolve } from 'node:path';
import { afterEach, expect, inject, it } from 'vitest';
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

it('stops a running job whose cancel message was lost, from the cancel mark its lock keeper reads', async () => {
  const redisPort = Number(new URL(inject('redisUrl')).port);
  proxy = await startTcpProxy(redisPort);
  runtime = await startTestRuntime({
    redisUrl: `redis://127.0.0.1:${proxy.port}`,
    // The lock keeper looks at the job every quarter of the lock time.
    config: { plugins: { dirs: [FIXTURES] }, worker: { lockDurationMs: 1000 } },
  });
  const rt = runtime;
  const { id } = await rt.producer.submit({ type: 'test.sleep', payload: { ms: 15_000 } });
  await waitFor(async () => (await rt.jobs.get(id)).state === 'active');

  // The subscriber's connection goes silent: the cancel is published, and never arrives.
  expect(proxy.freeze((opening) => opening.includes('taskmaster:cancel'))).toBe(1);
  const result = await rt.control.cancel(id);
  const job = await waitFor(async () => {
    const j = await rt.jobs.get(id);
    return j.state === 'completed' || j.state === 'cancelled' ? j : undefined;
  }, 20_000);

  expect(result.state).toBe('active');
  expect(job.state).toBe('cancelled');
  expect(job.attempts).toEqual([expect.objectContaining({ outcome: 'cancelled' })]);
});
