import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { launchBrowser, logIn, openJob as openJobPage, screenshot } from '../helpers/browser.ts';
import { startDashboardServer } from '../helpers/dashboard.ts';
import { ADMIN_KEY, api, type TestServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/runtime.ts';

let server: TestServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;

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
  // Every action asks first; the tests say yes.
  page.on('dialog', (dialog) => void dialog.accept());
  await logIn(page, server.url, ADMIN_KEY);
});
afterEach(async () => {
  await context?.close();
});

async function stateOf(id: string, states: string[]) {
  return waitFor(async () => {
    const { body } = await api(server, 'GET', `/api/v1/jobs/${id}`);
    return states.includes(body.state) ? body : undefined;
  }, 30_000);
}

function openJob(id: string) {
  return openJobPage(page, server.url, id);
}

async function timelineKinds(): Promise<string[]> {
  return page.locator('[data-testid=timeline] li strong').allTextContents();
}

describe('dashboard actions in Chromium', () => {
  it('retries a failed job, and the retry runs and is in the audit trail', async () => {
    const { body } = await api(server, 'POST', '/api/v1/jobs', { type: 'test.flaky', payload: { failures: 1 }, retries: 0 });
    await stateOf(body.id, ['dlq', 'failed']);

    await openJob(body.id);
    await page.click('[data-testid=retry]');
    const link = page.locator('[data-testid=retried-as]');
    await link.waitFor();
    const retriedAs = (await link.textContent())!;
    await stateOf(retriedAs, ['dlq', 'failed', 'completed']);

    await openJob(retriedAs);
    await page.waitForFunction(() => document.querySelector('[data-testid=timeline]')!.textContent!.includes('attempt.started'));
    const kinds = await timelineKinds();
    expect(kinds).toContain('job.retry');
    expect(await page.textContent('[data-testid=timeline]')).toContain('by test-admin');
    await screenshot(page, 'job-retried');
  });

  it('replays a DLQ entry with an edited payload', async () => {
    const { body } = await api(server, 'POST', '/api/v1/jobs', { type: 'test.flaky', payload: { failures: 3 }, retries: 0 });
    await stateOf(body.id, ['dlq']);

    await page.goto(`${server.url}/dashboard/#/dlq?type=test.flaky`);
    await page.click(`[data-testid="edit-${body.id}"]`);
    await page.fill('[data-testid=replay-payload]', JSON.stringify({ failures: 0 }));
    await screenshot(page, 'dlq-edit');
    await page.click('[data-testid=replay]');
    const notice = await page.waitForSelector('[data-testid=notice]');
    const replayedAs = /Replayed as (\S+)/.exec((await notice.textContent())!)![1];

    const replayed = await stateOf(replayedAs, ['completed']);
    expect(replayed.payload).toEqual({ failures: 0, permanent: false });
    await openJob(replayedAs);
    expect(await timelineKinds()).toContain('dlq.replay');
  });

  it('fits the DLQ page, with long ids, errors and an open editor, into 1280 px', async () => {
    const long = `${'SMTP 550 mailbox unavailable; '.repeat(20)}${'x'.repeat(300)}`;
    const tenant = `tenant-${'w'.repeat(60)}`;
    const { body } = await api(server, 'POST', '/api/v1/jobs', { type: 'markup.fail', payload: { message: long }, tenant });
    await stateOf(body.id, ['dlq']);
    const entry = (await api(server, 'GET', `/api/v1/dlq?tenant=${tenant}`)).body.entries[0];
    await api(server, 'POST', `/api/v1/dlq/${entry.id}/replay`, {});
    await api(server, 'POST', `/api/v1/dlq/${entry.id}/replay`, { again: true });

    await page.goto(`${server.url}/dashboard/#/dlq`);
    await page.click(`[data-testid="edit-${body.id}"]`);
    await page.waitForSelector('[data-testid=replay-payload]');
    await page.waitForFunction((id) => document.querySelector(`[data-entry="${id}"]`)!.textContent!.includes('.r'), entry.id);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    await screenshot(page, 'dlq-1280');
    expect(width).toBeLessThanOrEqual(1280);
  });

  it('runs a delayed job now from its page, and the timeline says who did it', async () => {
    const { body } = await api(server, 'POST', '/api/v1/jobs', { type: 'test.noop', payload: {}, delayMs: 3_600_000 });
    await stateOf(body.id, ['delayed']);

    await openJob(body.id);
    await page.click('[data-testid=promote]');
    await page.waitForSelector('[data-testid=notice]:text("Promoted")');
    await stateOf(body.id, ['completed']);

    await openJob(body.id);
    await page.waitForFunction(() => document.querySelector('[data-testid=job-state]')!.textContent === 'completed');
    const promoted = page.locator('[data-testid=timeline] li', { hasText: 'promoted' });
    expect(await promoted.textContent()).toContain('by test-admin');
    expect(await timelineKinds()).toEqual(['submitted', 'delayed', 'promoted', 'attempt.started', 'attempt.completed', 'completed']);
    await screenshot(page, 'job-promoted');
  });

  it('changes a delayed job priority from its page after asking, and the page and timeline show it', async () => {
    const { body } = await api(server, 'POST', '/api/v1/jobs', { type: 'test.noop', payload: {}, delayMs: 3_600_000, priority: 'low' });
    const asked: string[] = [];
    page.on('dialog', (dialog) => void asked.push(dialog.message()));

    await openJob(body.id);
    expect(await page.textContent('[data-testid=option-priority]')).toBe('low');
    await page.selectOption('[data-testid=priority-select]', 'critical');
    await page.click('[data-testid=change-priority]');
    await page.waitForSelector('[data-testid=notice]:text("Priority changed to critical")');
    await page.waitForFunction(() => document.querySelector('[data-testid=option-priority]')?.textContent === 'critical');
    expect(asked).toEqual([`Change the priority of ${body.id} to critical?`]);

    const changed = page.locator('[data-testid=timeline] li', { hasText: 'priority.changed' });
    await changed.waitFor();
    expect(await changed.textContent()).toMatch(/from low to critical.*by test-admin/);
    expect(await timelineKinds()).toEqual(['submitted', 'delayed', 'priority.changed']);
    const stored = await api(server, 'GET', `/api/v1/jobs/${body.id}`);
    expect([stored.body.state, stored.body.options.priority]).toEqual(['delayed', 'critical']);
    const audit = await api(server, 'GET', `/api/v1/audit?action=job.priority&jobId=${body.id}`);
    expect(audit.body.entries.map((e: any) => e.actor)).toEqual(['test-admin']);
    await screenshot(page, 'job-priority-changed');
  });
});
