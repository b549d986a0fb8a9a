import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'vitest';
import type { JobView, Runtime } from '../../src/engine/index.ts';
import { waitFor } from '../helpers/runtime.ts';
import { finished } from './support.ts';

/** Breakers small enough for a test: three failures open one, probes every 300 ms. */
export const QUICK_BREAKERS = { failureThreshold: 3, windowMs: 10_000, openMs: 300, halfOpenProbes: 1, deferSpreadMs: 50 };

/**
 * A loopback HTTP proxy in front of a provider's fake: while `down` it
 * answers 503 itself (an outage), otherwise it forwards each request as is.
 */
export interface OutageGate {
  url: string;
  host: string;
  down: boolean;
  /** When each request came, and whether the gate was down then. */
  hits: { at: number; down: boolean }[];
  close(): Promise<void>;
}

export async function startOutageGate(target: string): Promise<OutageGate> {
  const upstream = new URL(target);
  const gate: OutageGate = { url: '', host: '', down: false, hits: [], close: async () => {} };

  const server = createServer((req, res) => {
    gate.hits.push({ at: Date.now(), down: gate.down });
    if (gate.down) {
      req.resume();
      return void res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"unavailable"}');
    }
    const forward = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', (err) => res.writeHead(502).end(String(err)));
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  gate.host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  gate.url = `http://${gate.host}`;
  gate.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return gate;
}

/**
 * The outage every outbound module must ride out: the provider behind `gate`
 * fails until three requests have opened its host's breaker; jobs submitted
 * then (with no retries at all) are deferred, not failed, and at least one
 * probe is refused by the still-failing provider; after it recovers every
 * job completes. `submit(retries)` submits one job and returns its id.
 */
export async function rideOutOutage(
  rt: Runtime,
  gate: OutageGate,
  submit: (retries: number) => Promise<string>,
): Promise<{ early: JobView[]; late: JobView[] }> {
  const deferred = new Set<string>();
  const off = rt.events.on('job.deferred', (e) => deferred.add(e.jobId));
  gate.down = true;

  // 1. Three failed requests open the provider's breaker.
  const earlyIds = [await submit(5), await submit(5), await submit(5)];
  await waitFor(async () => (await rt.breakers.state(gate.host)).state === 'open');
  const openedAt = Date.now();

  // 2. Jobs that may not retry even once wait behind it, and a probe fails meanwhile.
  const lateIds = [await submit(0), await submit(0)];
  await waitFor(() => lateIds.every((id) => deferred.has(id)));
  await waitFor(() => gate.hits.some((h) => h.down && h.at > openedAt + QUICK_BREAKERS.openMs));
  for (const id of lateIds) expect(['delayed', 'waiting', 'active']).toContain((await rt.jobs.get(id)).state);
  expect((await rt.dlq.list({})).entries).toEqual([]);

  // 3. The provider recovers: every job gets through.
  gate.down = false;
  const early = await Promise.all(earlyIds.map((id) => finished(rt, id)));
  const late = await Promise.all(lateIds.map((id) => finished(rt, id)));
  off();

  for (const job of [...early, ...late]) expect(job.state).toBe('completed');
  for (const job of late) {
    const outcomes = job.attempts.map((a) => a.outcome);
    expect(outcomes).not.toContain('failed');
    expect(outcomes).toContain('deferred');
    expect(outcomes.at(-1)).toBe('completed');
  }
  expect((await rt.breakers.state(gate.host)).state).toBe('closed');
  return { early, late };
}
