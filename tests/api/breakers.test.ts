import { createServer, type Server } from 'node:http';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { api, startServer, type TestServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/runtime.ts';

const FAILURES = resolve(import.meta.dirname, '..', 'fixtures', 'failure-plugins');

let server: TestServer;
let target: Server;
let status = 503;
let targetUrl = '';

beforeAll(async () => {
  // A local downstream answering `status`.
  target = createServer((req, res) => {
    req.resume();
    res.writeHead(status).end();
  });
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  targetUrl = `http://127.0.0.1:${(target.address() as { port: number }).port}/`;

  server = await startServer({
    redisUrl: inject('redisUrl'),
    config: {
      plugins: { dirs: [FAILURES], builtins: false },
      outbound: { allow: ['127.0.0.1'] },
      defaults: { backoff: { type: 'fixed', delayMs: 100 } },
      breakers: { failureThreshold: 2, windowMs: 10_000, openMs: 400, deferSpreadMs: 50 },
      log: { level: 'warn' },
    },
  });
});
afterAll(async () => {
  await server?.stop();
  await new Promise((r) => target?.close(r));
});

async function breakers(): Promise<any[]> {
  const res = await api(server, 'GET', '/api/v1/breakers');
  expect(res.status).toBe(200);
  return res.body.breakers;
}

const call = (downstream: string) => ({ type: 'outage.call', payload: { url: targetUrl, downstream }, retries: 10 });

describe('GET /api/v1/breakers', () => {
  it('lists every breaker with its state, counts and since when', async () => {
    // 1. One downstream that works, one that fails twice and opens.
    status = 200;
    const fine = await api(server, 'POST', '/api/v1/jobs', call('Healthy-Host'));
    await waitFor(async () => (await api(server, 'GET', `/api/v1/jobs/${fine.body.id}`)).body.state === 'completed');
    status = 503;
    const before = Date.now();
    await api(server, 'POST', '/api/v1/jobs/bulk', { jobs: [call('broken-host'), call('broken-host')] });

    const open = await waitFor(async () => (await breakers()).find((b) => b.downstream === 'broken-host' && b.state === 'open'));
    expect(open.failures).toBe(2);
    expect(open.since).toBeGreaterThanOrEqual(before);
    expect(open.probeFrom).toBe(open.since + 400);
    const healthy = (await breakers()).find((b) => b.downstream === 'healthy-host');
    expect(healthy).toMatchObject({ state: 'closed', failures: 0, requests: 1 });
    expect(healthy.since).toBeUndefined();

    // 2. The downstream recovers: a probe closes it, and it says since when.
    status = 200;
    const closed = await waitFor(async () => (await breakers()).find((b) => b.downstream === 'broken-host' && b.state === 'closed'), 20_000);
    expect(closed.since).toBeGreaterThan(open.since);
    expect(closed.lastSeenAt).toBeGreaterThanOrEqual(before - 60_000);
  });

  it('needs a key', async () => {
    const res = await fetch(`${server.url}/api/v1/breakers`);
    expect(res.status).toBe(401);
  });
});
