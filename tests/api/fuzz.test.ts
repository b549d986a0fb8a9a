import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { fuzz } from '../helpers/fuzz.ts';
import { waitFor } from '../helpers/runtime.ts';
import { ADMIN_KEY, api, startServer, type TestServer } from '../helpers/server.ts';

const FIXTURES = resolve(import.meta.dirname, '..', 'fixtures', 'plugins');
/** `FUZZ_COUNT` and `FUZZ_SEED` change the run; `npm run fuzz` runs a larger one. */
const COUNT = Number(process.env.FUZZ_COUNT ?? 2000);
const SEED = Number(process.env.FUZZ_SEED ?? 20261204);

let server: TestServer;

beforeAll(async () => {
  server = await startServer({
    redisUrl: inject('redisUrl'),
    config: {
      // Only the test plugin: no fuzzed job may reach for the network.
      plugins: { builtins: false, dirs: [FIXTURES] },
      api: { keys: [{ name: 'test-admin', key: ADMIN_KEY, scopes: ['admin'], rateLimit: { perSecond: 1e6, burst: 1e7 } }] },
      log: { level: 'warn' },
    },
  });
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

describe('hostile input', () => {
  it(`answers ${COUNT} hostile requests on every route with 4xx or 2xx only, and other jobs stay as they were`, async () => {
    // 1. Jobs that exist before the run, finished, as they are.
    const ids: string[] = [];
    for (let n = 0; n < 3; n++) ids.push((await api(server, 'POST', '/api/v1/jobs', { type: 'test.noop', payload: { n } })).body.id);
    const before = await Promise.all(
      ids.map((id) => waitFor(async () => ((await api(server, 'GET', `/api/v1/jobs/${id}`)).body.state === 'completed' ? api(server, 'GET', `/api/v1/jobs/${id}`) : undefined))),
    );

    // 2. The run.
    const started = Date.now();
    const { byStatus, failures } = await fuzz({
      url: server.url,
      key: ADMIN_KEY,
      seed: SEED,
      count: COUNT,
      concurrency: 8,
      jobTypes: ['test.noop', 'test.flaky', 'test.sleep', 'nope.nothing'],
    });
    process.stdout.write(`fuzz: ${COUNT} requests in ${Date.now() - started} ms, seed ${SEED}, by status ${JSON.stringify(byStatus)}\n`);

    // 3. No server error, no crash, the earlier jobs unchanged.
    expect(failures.slice(0, 5)).toEqual([]);
    expect(Object.values(byStatus).reduce((a, b) => a + b, 0)).toBe(COUNT);
    expect(server.process.exitCode).toBeNull();
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const after = await Promise.all(ids.map((id) => api(server, 'GET', `/api/v1/jobs/${id}`)));
    expect(after.map((r) => r.body)).toEqual(before.map((r) => r.body));
  }, 600_000);
});
