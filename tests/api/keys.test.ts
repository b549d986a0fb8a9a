import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { tempDir, uniquePrefix } from '../helpers/runtime.ts';
import { ADMIN_KEY, api, ROOT, startServer, type TestServer } from '../helpers/server.ts';

const FIXTURES = resolve(import.meta.dirname, '..', 'fixtures', 'plugins');
const READ_KEY = 'test-read-key-0123456789';
const SUBMIT_KEY = 'test-submit-key-0123456789';
const LIMITED_KEY = 'test-limited-key-0123456789';

const prefix = uniquePrefix();
const config = {
  redis: { prefix },
  plugins: { dirs: [FIXTURES] },
  api: {
    keys: [
      { name: 'test-admin', key: ADMIN_KEY, scopes: ['admin'] },
      { name: 'reader', key: READ_KEY, scopes: ['read'] },
      { name: 'submitter', key: SUBMIT_KEY, scopes: ['submit'] },
      { name: 'limited', key: LIMITED_KEY, scopes: ['submit', 'read'], jobTypes: ['test.noop'], tenants: ['acme'] },
    ],
  },
};

// Two API processes on one Redis and one prefix: what one does, the other sees.
let first: TestServer;
let second: TestServer;

beforeAll(async () => {
  // One after the other: two cold starts at once are slow on a busy machine.
  first = await startServer({ role: 'api', redisUrl: inject('redisUrl'), config, waitFor: 'healthy' });
  second = await startServer({ role: 'api', redisUrl: inject('redisUrl'), config, waitFor: 'healthy' });
}, 200_000);

afterAll(async () => {
  await Promise.all([first?.stop(), second?.stop()]);
});

const noop = (extra: object = {}) => ({ type: 'test.noop', payload: { n: 1 }, ...extra });

describe('scopes', () => {
  it('answers 401 without a key or with an unknown one', async () => {
    const none = await fetch(`${first.url}/api/v1/jobs/default.x`);
    const wrong = await api(first, 'GET', '/api/v1/jobs/default.x', undefined, 'not-a-key-at-all-0000');

    expect(none.status).toBe(401);
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('unauthorized');
  });

  it('lets a read key read but not submit, list keys or read the audit log', async () => {
    const submitted = await api(first, 'POST', '/api/v1/jobs', noop());

    expect((await api(first, 'GET', `/api/v1/jobs/${submitted.body.id}`, undefined, READ_KEY)).status).toBe(200);
    expect((await api(first, 'GET', '/api/v1/job-types', undefined, READ_KEY)).status).toBe(200);
    expect((await api(first, 'POST', '/api/v1/jobs', noop(), READ_KEY)).status).toBe(403);
    expect((await api(first, 'POST', '/api/v1/jobs/bulk', { jobs: [noop()] }, READ_KEY)).status).toBe(403);
    expect((await api(first, 'GET', '/api/v1/keys', undefined, READ_KEY)).status).toBe(403);
    expect((await api(first, 'POST', '/api/v1/keys', { name: 'x', scopes: ['admin'] }, READ_KEY)).status).toBe(403);
    expect((await api(first, 'GET', '/api/v1/audit', undefined, READ_KEY)).status).toBe(403);
  });

  it('lets a submit key submit but not read jobs or manage keys', async () => {
    const submitted = await api(first, 'POST', '/api/v1/jobs', noop(), SUBMIT_KEY);

    expect(submitted.status).toBe(202);
    expect((await api(first, 'GET', `/api/v1/jobs/${submitted.body.id}`, undefined, SUBMIT_KEY)).status).toBe(403);
    expect((await api(first, 'GET', '/api/v1/keys', undefined, SUBMIT_KEY)).status).toBe(403);
    expect((await api(first, 'DELETE', '/api/v1/keys/cfg:reader', undefined, SUBMIT_KEY)).status).toBe(403);
  });

  it('limits a submit key to its job types and tenants, naming the refused field', async () => {
    const ok = await api(first, 'POST', '/api/v1/jobs', noop({ tenant: 'acme' }), LIMITED_KEY);
    const otherType = await api(first, 'POST', '/api/v1/jobs', { type: 'test.flaky', payload: { failures: 0 }, tenant: 'acme' }, LIMITED_KEY);
    const otherTenant = await api(first, 'POST', '/api/v1/jobs', noop({ tenant: 'globex' }), LIMITED_KEY);
    const noTenant = await api(first, 'POST', '/api/v1/jobs', noop(), LIMITED_KEY);

    expect(ok.status).toBe(202);
    expect(otherType.status).toBe(403);
    expect(otherType.body.error.details).toEqual([{ field: 'type', message: expect.stringContaining('test.noop') }]);
    expect(otherTenant.status).toBe(403);
    expect(otherTenant.body.error.details[0].field).toBe('tenant');
    expect(noTenant.status).toBe(403);
  });

  it('refuses a whole bulk when one job is outside the key limits, storing none', async () => {
    const res = await api(first, 'POST', '/api/v1/jobs/bulk', {
      jobs: [noop({ tenant: 'acme', idempotencyKey: 'bulk-limit-0' }), noop({ tenant: 'globex' })],
    }, LIMITED_KEY);
    const again = await api(first, 'POST', '/api/v1/jobs', noop({ tenant: 'acme', idempotencyKey: 'bulk-limit-0' }), LIMITED_KEY);

    expect(res.status).toBe(403);
    expect(res.body.error.details.map((d: { field: string }) => d.field)).toEqual(['jobs.1.tenant']);
    expect(again.body.duplicate).toBe(false);
  });
});

describe('keys made at run time', () => {
  it('creates a key on one process that works on the other, lists it without the secret, and records it', async () => {
    const made = await api(first, 'POST', '/api/v1/keys', { name: 'made-reader', scopes: ['read'] });

    expect(made.status).toBe(201);
    expect(made.body.key).toMatch(/^tm_/);
    expect((await api(second, 'GET', '/api/v1/job-types', undefined, made.body.key)).status).toBe(200);

    const listed = await api(second, 'GET', '/api/v1/keys');
    const entry = listed.body.keys.find((k: { name: string }) => k.name === 'made-reader');
    expect(entry).toMatchObject({ id: made.body.id, scopes: ['read'], source: 'stored', createdBy: 'test-admin' });
    expect(JSON.stringify(listed.body)).not.toContain(made.body.key);
    expect(JSON.stringify(listed.body)).not.toMatch(/[0-9a-f]{64}/);

    const audit = await api(first, 'GET', `/api/v1/audit?action=key.create`);
    expect(audit.body.entries[0]).toMatchObject({ actor: 'test-admin', action: 'key.create', target: made.body.id });
  });

  it('revokes a key on one process and the other refuses it on the very next request', async () => {
    const made = await api(first, 'POST', '/api/v1/keys', { name: 'soon-gone', scopes: ['read'] });
    expect((await api(second, 'GET', '/api/v1/job-types', undefined, made.body.key)).status).toBe(200);

    const revoked = await api(first, 'DELETE', `/api/v1/keys/${made.body.id}`);
    const after = await api(second, 'GET', '/api/v1/job-types', undefined, made.body.key);

    expect(revoked.status).toBe(200);
    expect(after.status).toBe(401);
    const audit = await api(second, 'GET', `/api/v1/audit?action=key.revoke`);
    expect(audit.body.entries[0]).toMatchObject({ actor: 'test-admin', target: made.body.id, details: { name: 'soon-gone' } });
  });

  it('refuses a taken name, an unknown id and revoking a configured key', async () => {
    expect((await api(first, 'POST', '/api/v1/keys', { name: 'reader', scopes: ['read'] })).status).toBe(409);
    expect((await api(first, 'POST', '/api/v1/keys', { name: 'twice', scopes: ['read'] })).status).toBe(201);
    expect((await api(first, 'POST', '/api/v1/keys', { name: 'twice', scopes: ['read'] })).status).toBe(409);
    expect((await api(first, 'DELETE', '/api/v1/keys/key_0000')).status).toBe(404);
    expect((await api(first, 'DELETE', '/api/v1/keys/cfg:reader')).status).toBe(409);
    const bad = await api(first, 'POST', '/api/v1/keys', { name: 'x', scopes: ['root'] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].field).toBe('scopes.0');
  });

  it('manages keys from the command line, recorded in the audit log as the CLI user', async () => {
    const dir = tempDir('tm-keys-cli-');
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ ...config, dataDir: join(dir, 'data'), redis: { url: inject('redisUrl'), prefix, allowEviction: true }, log: { level: 'warn' } }));
    const env = { TASKMASTER_CONFIG: file };

    const created = await cli(['keys', 'create', '--name', 'cli-submitter', '--scopes', 'submit', '--job-types', 'test.noop'], env);
    expect(created.code, created.output).toBe(0);
    const key = /\n {2}(tm_[\w-]+)\n/.exec(created.output)![1];
    const id = /^(key_[0-9a-f]+)\t/m.exec(created.output)![1];

    expect((await api(second, 'POST', '/api/v1/jobs', noop(), key)).status).toBe(202);
    expect((await api(second, 'POST', '/api/v1/jobs', { type: 'test.flaky', payload: { failures: 0 } }, key)).status).toBe(403);
    expect((await cli(['keys', 'list'], env)).output).toContain(`${id}\tcli-submitter\tsubmit\ttypes=test.noop\tstored`);

    expect((await cli(['keys', 'revoke', id], env)).code).toBe(0);
    expect((await api(first, 'POST', '/api/v1/jobs', noop(), key)).status).toBe(401);
    const audit = await api(first, 'GET', `/api/v1/audit?action=key.`);
    const actions = audit.body.entries.filter((e: { target?: string }) => e.target === id);
    expect(actions.map((e: { action: string }) => e.action)).toEqual(['key.revoke', 'key.create']);
    expect(actions[0].actor).toMatch(/^cli/);
  }, 150_000);
});

describe('submission rate limit', () => {
  it('is shared by two API processes and answers 429 with Retry-After', async () => {
    const made = await api(first, 'POST', '/api/v1/keys', {
      name: 'slow-submitter',
      scopes: ['submit'],
      rateLimit: { perSecond: 0.2, burst: 4 },
    });
    const key = made.body.key;

    const statuses: number[] = [];
    for (const server of [first, second, first, second]) statuses.push((await api(server, 'POST', '/api/v1/jobs', noop(), key)).status);
    const refused = await api(second, 'POST', '/api/v1/jobs', noop(), key);
    const bulk = await api(first, 'POST', '/api/v1/jobs/bulk', { jobs: [noop()] }, key);

    expect(statuses).toEqual([202, 202, 202, 202]);
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('rate_limited');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(5);
    expect(bulk.status).toBe(429);
  });
});

function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    let output = '';
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'taskmaster.mjs'), ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('exit', (code) => resolve({ code, output }));
  });
}
