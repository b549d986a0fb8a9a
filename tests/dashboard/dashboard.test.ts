import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { launchBrowser, logIn, openJob as openJobPage, screenshot } from '../helpers/browser.ts';
import { READ_KEY, startDashboardServer } from '../helpers/dashboard.ts';
import { ADMIN_KEY, api, type TestServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/runtime.ts';

let server: TestServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  [server, browser] = await Promise.all([startDashboardServer(inject('redisUrl')), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});
beforeEach(async () => {
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  // Every action asks first; the tests say yes.
  page.on('dialog', (dialog) => void dialog.accept());
});
afterEach(async () => {
  await context?.close();
});

async function finished(id: string) {
  return waitFor(async () => {
    const { body } = await api(server, 'GET', `/api/v1/jobs/${id}`);
    return ['completed', 'dlq'].includes(body.state) ? body : undefined;
  });
}

/** The dashboard's way of showing a time (src/dashboard/format.ts). */
function shownTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

function openJob(id: string) {
  return openJobPage(page, server.url, id);
}

describe('dashboard in Chromium', () => {
  it('logs in and shows a queue whose numbers move as jobs run', async () => {
    await logIn(page, server.url, ADMIN_KEY);
    await page.waitForSelector('[data-testid=default-completed]');
    const before = Number((await page.textContent('[data-testid=default-completed]'))!.replace(/\D/g, ''));

    await api(server, 'POST', '/api/v1/jobs/bulk', {
      jobs: Array.from({ length: 5 }, () => ({ type: 'test.sleep', payload: { ms: 50 } })),
    });

    await page.waitForFunction(
      (n) => Number(document.querySelector('[data-testid=default-completed]')!.textContent!.replace(/\D/g, '')) >= n,
      before + 5,
      { timeout: 20_000 },
    );
    expect(await page.textContent('[data-testid=live-status]')).toBe('live');
    expect(await page.locator('.chart canvas').count()).toBeGreaterThan(0);
    await screenshot(page, 'overview');
  });

  it('shows DLQ depth per queue and per job type on the overview', async () => {
    const { body } = await api(server, 'POST', '/api/v1/jobs', { type: 'test.flaky', payload: { failures: 9, permanent: true }, tenant: 'dlq-depth' });
    await finished(body.id);
    const { body: metrics } = await api(server, 'GET', '/api/v1/metrics');
    const dlq = metrics.queues.find((q: any) => q.queue === 'default').depth.dlq;
    expect(dlq).toBeGreaterThanOrEqual(1);

    await logIn(page, server.url, READ_KEY);
    await page.waitForFunction((n) => document.querySelector('[data-testid=default-dlq]')?.textContent === String(n), dlq);
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="default/test.flaky-dlq"]')?.textContent) >= 1);
    await screenshot(page, 'overview-dlq');

    // "failed" counts what its link lists (BullMQ's failed set); the job is under DLQ only.
    const { body: failed } = await api(server, 'GET', '/api/v1/jobs?queue=default&state=failed');
    expect(await page.textContent('[data-testid=default-failed]')).toBe(String(failed.jobs.length));
    expect(failed.jobs.map((j: { id: string }) => j.id)).not.toContain(body.id);
    expect(await page.getAttribute('[data-testid=default-failed]', 'href')).toContain('state=failed');
    expect(await page.getAttribute('[data-testid=default-dlq]', 'href')).toContain('#/dlq');

    // A job in the DLQ shows when its first attempt started.
    const { body: job } = await api(server, 'GET', `/api/v1/jobs/${body.id}`);
    expect(job.state).toBe('dlq');
    await openJob(body.id);
    expect(await page.textContent('[data-testid=started]')).toBe(shownTime(job.attempts[0].startedAt));
  });

  it('lists jobs and opens one with its timeline', async () => {
    const { body } = await api(server, 'POST', '/api/v1/jobs', { type: 'test.flaky', payload: { failures: 1 }, tenant: 'acme' });
    await finished(body.id);

    await logIn(page, server.url, ADMIN_KEY);
    await page.goto(`${server.url}/dashboard/#/jobs?queue=default&state=completed&tenant=acme`);
    await page.waitForSelector(`[data-testid=jobs] a:text("${body.id}")`);
    await screenshot(page, 'jobs');

    await page.click(`[data-testid=jobs] a:text("${body.id}")`);
    await page.waitForSelector('[data-testid=timeline] li');
    const kinds = await page.locator('[data-testid=timeline] li strong').allTextContents();
    expect(kinds).toEqual([
      'submitted',
      'queued',
      'attempt.started',
      'attempt.failed',
      'retry.scheduled',
      'attempt.started',
      'attempt.completed',
      'completed',
    ]);
    expect(await page.textContent('[data-testid=timeline]')).toContain('testkit@1.2.3');
    const { body: job } = await api(server, 'GET', `/api/v1/jobs/${body.id}`);
    expect(job.timestamps.startedAt).toBe(job.attempts[0].startedAt);
    expect(await page.textContent('[data-testid=started]')).toBe(shownTime(job.attempts[0].startedAt));
    await screenshot(page, 'job');
  });

  it('shows markup in payload, error and result as text and runs none of it', async () => {
    const markup = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">';
    const echo = await api(server, 'POST', '/api/v1/jobs', { type: 'markup.echo', payload: { text: markup } });
    const fail = await api(server, 'POST', '/api/v1/jobs', { type: 'markup.fail', payload: { message: markup } });
    await Promise.all([finished(echo.body.id), finished(fail.body.id)]);

    await logIn(page, server.url, ADMIN_KEY);
    await openJob(echo.body.id);
    expect(await page.textContent('[data-testid=payload]')).toContain('<script>window.__pwned = 1</script>');
    expect(await page.textContent('[data-testid=result]')).toContain('onerror=');
    await openJob(fail.body.id);
    expect(await page.textContent('[data-testid=error]')).toContain('<img src=x onerror=');
    await screenshot(page, 'job-with-markup');

    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(await page.locator('main img, main script').count()).toBe(0);
    expect(pageErrors).toEqual([]);
  });

  it('gives a read-only key no actions, and the API refuses them', async () => {
    const { body } = await api(server, 'POST', '/api/v1/jobs', { type: 'test.noop', payload: {}, delayMs: 60_000 });

    await logIn(page, server.url, READ_KEY);
    expect(await page.textContent('[data-testid=who]')).toContain('read only');
    await openJob(body.id);
    expect(await page.locator('[data-testid=actions]').count()).toBe(0);

    // Even a hand-made request from the logged-in page is refused.
    const status = await page.evaluate(async () => {
      const session = await (await fetch('/api/v1/session')).json();
      const response = await fetch('/api/v1/jobs', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrfToken },
        body: JSON.stringify({ type: 'test.noop', payload: {} }),
      });
      return response.status;
    });
    expect(status).toBe(403);
    expect(await page.locator('[data-testid=priority-select]').count()).toBe(0);
    const change = await page.evaluate(async (id) => {
      const session = await (await fetch('/api/v1/session')).json();
      const response = await fetch(`/api/v1/jobs/${id}`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrfToken },
        body: JSON.stringify({ priority: 'critical' }),
      });
      return response.status;
    }, body.id);
    expect(change).toBe(403);
    await screenshot(page, 'job-read-only');
  });

  it('shows worker processes with their plugin versions, and schedules with their next run', async () => {
    const put = await api(server, 'PUT', '/api/v1/schedules/nightly-noop', { cron: '0 3 * * *', type: 'test.noop', payload: {} });
    expect([200, 201]).toContain(put.status);

    await logIn(page, server.url, READ_KEY);
    await page.goto(`${server.url}/dashboard/#/system`);
    const row = page.locator('[data-testid=schedules] tr', { hasText: 'nightly-noop' });
    await row.waitFor();
    const workers = page.locator('[data-testid=workers] tbody tr');
    await workers.first().waitFor();
    expect(await workers.first().textContent()).toContain('testkit@1.2.3');
    expect(await row.textContent()).toMatch(/0 3 \* \* \* \(UTC\).*\d{4}-\d{2}-\d{2} 03:00:00Z/);
    await screenshot(page, 'system');
  });
});
