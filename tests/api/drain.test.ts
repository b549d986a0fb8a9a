import { request } from 'node:http';
import { resolve } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { Runtime } from '../../src/engine/index.ts';
import { startTestRuntime, uniquePrefix, waitFor } from '../helpers/runtime.ts';
import { ADMIN_KEY, startServer, type TestServer } from '../helpers/server.ts';

const FIXTURES = resolve(import.meta.dirname, '..', 'fixtures', 'plugins');

/** Real processes start slowly on a busy machine; that is not what these tests measure. */
const PROCESS_TEST_MS = 240_000;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function setup(drainTimeoutMs: number) {
  const prefix = uniquePrefix();
  const server = await startServer({
    role: 'start',
    readyTimeoutMs: 120_000,
    config: {
      redis: { url: inject('redisUrl'), prefix, allowEviction: true },
      plugins: { dirs: [FIXTURES] },
      worker: { drainTimeoutMs },
    },
  });
  cleanups.push(() => server.stop('SIGKILL'));
  const reader: Runtime = await startTestRuntime({ workers: false, config: { redis: { prefix }, plugins: { dirs: [FIXTURES] } } });
  cleanups.push(() => reader.stop());
  return { server, reader };
}

/**
 * A request on a connection of its own: a pooled keep-alive connection that
 * the server closes as idle would fail the request for a reason not under test.
 */
function call(server: TestServer, method: string, path: string, job?: unknown): Promise<{ status: number; body: any }> {
  const body = job === undefined ? undefined : JSON.stringify(job);
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, server.url), {
      method,
      agent: false,
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : undefined }));
    });
    req.end(body);
  });
}

/** Starts a job submission and sends only half of its body; `finish` sends the rest. */
function slowSubmission(server: TestServer, job: unknown) {
  const body = Buffer.from(JSON.stringify(job));
  const url = new URL('/api/v1/jobs', server.url);
  let settle: (value: { status: number; body: string }) => void;
  const response = new Promise<{ status: number; body: string }>((r) => (settle = r));
  const req = request(url, {
    method: 'POST',
    agent: false,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json', 'content-length': body.length },
  });
  req.on('response', (res) => {
    let text = '';
    res.on('data', (d) => (text += d));
    res.on('end', () => settle({ status: res.statusCode!, body: text }));
  });
  req.write(body.subarray(0, 10));
  return {
    response,
    finish: () => req.end(body.subarray(10)),
  };
}

function exitOf(server: TestServer): Promise<number | null> {
  if (server.process.exitCode !== null) return Promise.resolve(server.process.exitCode);
  return new Promise((r) => server.process.once('exit', (code) => r(code)));
}

describe('graceful API shutdown', () => {
  it('answers 503 while draining, finishes running requests and jobs, then exits 0', async () => {
    const { server, reader } = await setup(10_000);
    const running = await call(server, 'POST', '/api/v1/jobs', { type: 'test.sleep', payload: { ms: 2000 } });
    await waitFor(async () => (await reader.jobs.get(running.body.id)).state === 'active');
    const slow = slowSubmission(server, { type: 'test.noop', payload: { n: 1 } });
    await new Promise((r) => setTimeout(r, 200));

    const exited = exitOf(server);
    server.process.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));

    const refused = await call(server, 'POST', '/api/v1/jobs', { type: 'test.noop', payload: {} });
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe('draining');
    expect((await call(server, 'GET', '/readyz')).status).toBe(503);

    slow.finish();
    const accepted = await slow.response;
    expect(accepted.status).toBe(202);

    expect(await exited).toBe(0);
    expect((await reader.jobs.get(running.body.id)).state).toBe('completed');
    expect((await reader.jobs.get(JSON.parse(accepted.body).id)).state).toBe('waiting');
  }, PROCESS_TEST_MS);

  it('exits at once on a second signal', async () => {
    const { server, reader } = await setup(30_000);
    const running = await call(server, 'POST', '/api/v1/jobs', { type: 'test.sleep', payload: { ms: 20_000 } });
    await waitFor(async () => (await reader.jobs.get(running.body.id)).state === 'active');

    const exited = exitOf(server);
    server.process.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    const secondAt = Date.now();
    server.process.kill('SIGTERM');

    expect(await exited).toBe(1);
    expect(Date.now() - secondAt).toBeLessThan(5000);
  }, PROCESS_TEST_MS);
});
