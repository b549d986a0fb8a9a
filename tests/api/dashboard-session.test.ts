import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startDashboardServer, READ_KEY } from '../helpers/dashboard.ts';
import { ADMIN_KEY, type TestServer } from '../helpers/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startDashboardServer(inject('redisUrl'));
});
afterAll(async () => {
  await server?.stop();
});

async function login(key: string) {
  const response = await fetch(`${server.url}/api/v1/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ key }),
  });
  const cookie = response.headers.get('set-cookie') ?? '';
  return { status: response.status, cookie, body: await response.json() };
}

function withCookie(cookie: string, init: RequestInit = {}): RequestInit {
  return { ...init, headers: { ...(init.headers as Record<string, string>), cookie: cookie.split(';')[0] } };
}

describe('dashboard session', () => {
  it('logs in with a key and sets an httpOnly, SameSite=Strict cookie', async () => {
    const { status, cookie, body } = await login(READ_KEY);

    expect(status).toBe(200);
    expect(cookie).toMatch(/^tm_session=/);
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    expect(cookie).not.toContain(READ_KEY);
    expect(body).toMatchObject({ name: 'test-reader', scopes: ['read'] });
    expect(body.csrfToken).toEqual(expect.any(String));
  });

  it('refuses an unknown key', async () => {
    const { status, cookie } = await login('not-a-key-at-all-0000');
    expect(status).toBe(401);
    expect(cookie).toBe('');
  });

  it('accepts the session cookie wherever the API takes a key', async () => {
    const { cookie } = await login(READ_KEY);

    const jobs = await fetch(`${server.url}/api/v1/jobs?queue=default`, withCookie(cookie));
    const anonymous = await fetch(`${server.url}/api/v1/jobs?queue=default`);

    expect(jobs.status).toBe(200);
    expect(anonymous.status).toBe(401);
  });

  it('refuses an action sent with the cookie but without the CSRF token', async () => {
    const { cookie, body } = await login(ADMIN_KEY);
    const submit = (headers: Record<string, string>) =>
      fetch(
        `${server.url}/api/v1/jobs`,
        withCookie(cookie, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ type: 'test.noop', payload: {} }),
        }),
      );

    const forged = await submit({});
    const wrong = await submit({ 'x-csrf-token': 'x'.repeat(body.csrfToken.length) });
    const real = await submit({ 'x-csrf-token': body.csrfToken });

    expect(forged.status).toBe(403);
    expect((await forged.json()).error.code).toBe('csrf_failed');
    expect(wrong.status).toBe(403);
    expect(real.status).toBe(202);
  });

  it('keeps a read-only session from acting', async () => {
    const { cookie, body } = await login(READ_KEY);

    const response = await fetch(
      `${server.url}/api/v1/jobs`,
      withCookie(cookie, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': body.csrfToken },
        body: JSON.stringify({ type: 'test.noop', payload: {} }),
      }),
    );
    expect(response.status).toBe(403);
  });

  it('ends the session on logout', async () => {
    const { cookie, body } = await login(READ_KEY);

    const out = await fetch(`${server.url}/api/v1/session`, withCookie(cookie, { method: 'DELETE', headers: { 'x-csrf-token': body.csrfToken } }));
    const after = await fetch(`${server.url}/api/v1/session`, withCookie(cookie));

    expect(out.status).toBe(204);
    expect(after.status).toBe(401);
  });

  it('serves the dashboard with a policy that forbids inline script', async () => {
    const response = await fetch(`${server.url}/dashboard/`);
    const html = await response.text();

    expect(response.status).toBe(200);
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(html).toContain('<div id="app">');
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
  });
});
