import { afterAll, describe, expect, it } from 'vitest';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.ts';
import { waitFor } from '../helpers/runtime.ts';
import { api, type TestServer } from '../helpers/server.ts';
import { chaosScale, Fleet, report, CHAOS_TIMEOUT_MS } from './fleet.ts';

const scale = chaosScale();
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
    fleet = new Fleet(redis.url, { worker: { lockDurationMs: 2000, stalledIntervalMs: 1000 } });
    const apiServer = await fleet.start('api');
    await fleet.start('worker');
    await waitFor(async () => (await readyStatus(apiServer)) === 200, 30_000, 200);

    const load = submitter(apiServer);
    const outages: { how: string; redWhileDown: boolean }[] = [];
    for (let round = 0; round < 2 * scale; round++) {
      await new Promise((r) => setTimeout(r, 1500));

      // Alternate a clean restart (SIGTERM) and a crash (SIGKILL).
      const hard = round % 2 === 1;
      await redis.stop(hard);
      const redWhileDown = await waitFor(async () => (await readyStatus(apiServer)) === 503, 15_000, 100).then(
        () => true,
        () => false,
      );
      await new Promise((r) => setTimeout(r, 1000));
      await redis.restart();
      await waitFor(async () => (await readyStatus(apiServer)) === 200, 30_000, 200);
      outages.push({ how: hard ? 'SIGKILL' : 'SIGTERM', redWhileDown });
    }
    await new Promise((r) => setTimeout(r, 1000));
    await load.stop();

    await waitFor(() => fleet!.settled(load.accepted), 90_000, 500);
    const counts = await fleet.tally(load.accepted, new Set());
    // A job running while Redis went away cannot report its end; it runs again once its lock
    // expires, so here every re-run is explained by the outage (its effect still applies once).
    const { runTwiceUnexplained: _all, ...shown } = counts;
    report('redis-restart', { ...shown, refusedWhileDown: load.refused(), outages: outages.length });

    expect(outages.every((o) => o.redWhileDown)).toBe(true);
    expect(load.refused()).toBeGreaterThan(0);
    expect(counts.lost).toBe(0);
    expect(counts.completed).toBe(load.accepted.length);
    expect(counts.duplicateEffects).toBe(0);
  }, CHAOS_TIMEOUT_MS);
});
