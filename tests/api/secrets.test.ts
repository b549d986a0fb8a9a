import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { uniquePrefix, waitFor } from '../helpers/runtime.ts';
import { api, startServer, type TestServer } from '../helpers/server.ts';

const PLUGINS = resolve(import.meta.dirname, '..', 'fixtures', 'secure-plugins');
const TOKEN = 'tok_' + randomBytes(12).toString('hex');
const prefix = uniquePrefix();

let server: TestServer;
let redis: Redis;

beforeAll(async () => {
  server = await startServer({
    redisUrl: inject('redisUrl'),
    // The most talkative log level: even then no secret may appear.
    config: { redis: { prefix }, plugins: { dirs: [PLUGINS] }, log: { level: 'trace' } },
    env: { TASKMASTER_SECRET_KEY: randomBytes(32).toString('base64') },
  });
  redis = new Redis(inject('redisUrl'));
}, 120_000);

afterAll(async () => {
  await server?.stop();
  redis?.disconnect();
});

describe('secrets over the API', () => {
  it('never shows a secret field in responses, logs or Redis', async () => {
    const submitted = await api(server, 'POST', '/api/v1/jobs', { type: 'vault.use', payload: { user: 'ada', token: TOKEN } });
    const bulk = await api(server, 'POST', '/api/v1/jobs/bulk', { jobs: [{ type: 'vault.use', payload: { user: 'bo', token: TOKEN } }] });
    const invalid = await api(server, 'POST', '/api/v1/jobs', { type: 'vault.use', payload: { user: 42, token: TOKEN } });
    const job = await waitFor(async () => {
      const res = await api(server, 'GET', `/api/v1/jobs/${submitted.body.id}`);
      return res.body.state === 'completed' ? res : undefined;
    });

    expect(submitted.status).toBe(202);
    expect(bulk.status).toBe(202);
    expect(invalid.status).toBe(400);
    expect(job.body.payload).toEqual({ user: 'ada', token: '[secret]' });
    for (const res of [submitted, bulk, invalid, job]) expect(JSON.stringify(res.body)).not.toContain(TOKEN);

    const keys = await redis.keys(`${prefix}:*`);
    for (const key of keys) {
      const type = await redis.type(key);
      const value = type === 'hash' ? JSON.stringify(await redis.hgetall(key)) : type === 'string' ? await redis.get(key) : '';
      expect(value ?? '', key).not.toContain(TOKEN);
    }
    expect(server.output()).toContain('using the vault');
    expect(server.output()).not.toContain(TOKEN);
  });
});
