import { afterAll, describe, expect, it } from 'vitest';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.ts';
import { waitFor } from '../helpers/runtime.ts';
import { api, type TestServer } from '../helpers/server.ts';
import { chaosScale, Fleet, report, CHAOS_TIMEOUT_MS } from './fleet.ts';

const scale = chaosScale();
const LOCK_MS = 5000;
let redis: TestRedis | undefined;
let fleet: Fleet | undefined;

afterAll(async () => {
  await fleet?.stop();
  await redis?.stop();
});

/** Submits one job at a time until stopped; keeps the ids that got a 2xx. */
function submitter(server: TestServer) {
  const accepted: string[] = [];
  let refused = 0;
  let running = true;
  const done = (async () => {
    for (let i = 0; running; i++) {
      const res = await api(server, 'POST', '/api/v1/jobs', {
        type: 'chaos.effect',
        payload: { ms: 20 },
        idempotencyKey: `restart-${i}`,
      }).catch(() => ({ status: 0, body: undefined }));
      if (res.status >= 200 && res.status < 300) accepted.push(res.body.id);
      else refused++;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    accepted,
    refused: () => refused,
    stop: async () => {
      running = false;
      await done;
    },
  };
}

async function readyStatus(server: TestServer): Promise<number> {
  return fetch(`${server.url}/readyz`).then((r) => r.status, () => 0);
}

describe('chaos: Redis restarted and killed under load', () => {
  it('keeps every job that got a 2xx; API and workers reconnect; readiness follows Redis', async () => {
    // Every write is on disk before Redis answers, so a 2xx survives a SIGKILL.
    redis = await startTestRedis(['--appendonly', 'yes', '--appendfsync', 'always']);
    // Locks outlive each outage (about 2 s): Redis reloads them with their expiry times, so a
    // lock shorter than an outage would be gone when Redis returns, and its job taken for stalled.
    fleet = new Fleet(redis.url, { worker: { lockDurationMs: LOCK_MS, stalledIntervalMs: 1000 } });
    const apiServer = await fleet.start('api');
    await fleet.start('worker');
    await waitFor(async () => (await readyStatus(apiServer)) === 200, 30_000, 200);

    const load = submitter(apiServer);
    const outages: { how: string; redWhileDown: boolean; downMs: number }[] = [];
    for (let round = 0; round < 2 * scale; round++) {
      await new Promise((r) => setTimeout(r, 1500));

      // Alternate a clean restart (SIGTERM) and a crash (SIGKILL).
      const hard = round % 2 === 1;
      await redis.stop(hard);
      const downAt = Date.now();
      const redWhileDown = await waitFor(async () => (await readyStatus(apiServer)) === 503, 15_000, 100).then(
        () => true,
        () => false,
      );
      await new Promise((r) => setTimeout(r, 1000));
      await redis.restart();
      const downMs = Date.now() - downAt;
      await waitFor(async () => (await readyStatus(apiServer)) === 200, 30_000, 200);
      outages.push({ how: hard ? 'SIGKILL' : 'SIGTERM', redWhileDown, downMs });
    }
    await new Promise((r) => setTimeout(r, 1000));
    await load.stop();

    await waitFor(() => fleet!.settled(load.accepted), 90_000, 500);
    const counts = await fleet.tally(load.accepted, new Set());
    // No worker dies here, so no job may run twice: a handler that ends while Redis is away has
    // its attempt recorded, and BullMQ its completion, once Redis is back (both wait for it),
    // while the job's lock outlives the outage.
    const { runTwiceUnexplained: _all, ...shown } = counts;
    const longestOutageMs = Math.max(...outages.map((o) => o.downMs));
    report('redis-restart', { ...shown, refusedWhileDown: load.refused(), outages: outages.length, longestOutageMs });

    expect(outages.every((o) => o.redWhileDown)).toBe(true);
    expect(load.refused()).toBeGreaterThan(0);
    expect(counts.lost).toBe(0);
    expect(counts.completed).toBe(load.accepted.length);
    expect(counts.duplicateEffects).toBe(0);
    expect(counts.runTwice).toBe(0);
  }, CHAOS_TIMEOUT_MS);
});
