import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { AuditLog } from '../../src/engine/index.ts';
import { Keys } from '../../src/redis/index.ts';
import { uniquePrefix } from '../helpers/runtime.ts';
import { api, startServer, type TestServer } from '../helpers/server.ts';

const READ_KEY = 'test-read-key-0123456789';
const prefix = uniquePrefix();
let server: TestServer;
let redis: Redis;

beforeAll(async () => {
  server = await startServer({
    redisUrl: inject('redisUrl'),
    config: {
      redis: { prefix },
      api: {
        keys: [
          { name: 'test-admin', key: 'test-admin-key-0123456789', scopes: ['admin'] },
          { name: 'reader', key: READ_KEY, scopes: ['read'] },
        ],
      },
    },
  });
  redis = new Redis(inject('redisUrl'));
}, 120_000);

afterAll(async () => {
  await server?.stop();
  redis?.disconnect();
});

describe('GET /api/v1/audit', () => {
  it('shows entries written by any process to an admin key, newest first', async () => {
    const log = new AuditLog(redis, new Keys(prefix), { maxEntries: 1000, retentionMs: 3_600_000 });
    await log.record({ actor: 'elsewhere', action: 'job.cancel', jobId: 'default.x1' });
    await log.record({ actor: 'elsewhere', action: 'dlq.replay', jobId: 'default.x2' });

    const res = await api(server, 'GET', '/api/v1/audit?jobId=default.x1');

    expect(res.status).toBe(200);
    expect(res.body.entries).toHaveLength(1);
    expect(res.body.entries[0]).toMatchObject({ actor: 'elsewhere', action: 'job.cancel', jobId: 'default.x1' });
  });

  it('refuses a key without the admin scope with 403', async () => {
    const res = await api(server, 'GET', '/api/v1/audit', undefined, READ_KEY);

    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('forbidden');
  });

  it('names the bad query field with 400', async () => {
    const res = await api(server, 'GET', '/api/v1/audit?limit=0&before=nope');

    expect(res.status).toBe(400);
    const fields = res.body.error.details.map((d: { field: string }) => d.field).sort();
    expect(fields).toEqual(['query.before', 'query.limit']);
  });
});
