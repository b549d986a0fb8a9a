import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { launchBrowser, logIn, screenshot } from '../helpers/browser.ts';
import { startDashboardServer } from '../helpers/dashboard.ts';
import { ADMIN_KEY, api, ROOT, type TestServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/runtime.ts';

let server: TestServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;

beforeAll(async () => {
  if (!hasDlqRoutes) return;
  [server, browser] = await Promise.all([startDashboardServer(inject('redisUrl')), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});
beforeEach(async () => {
  if (!hasDlqRoutes) return;
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

async function openJob(id: string) {
  await page.goto(`${server.url}/dashboard/#/jobs/${encodeURIComponent(id)}`);
  await page.waitForSelector('[data-testid=timeline] li');
}

async function timelineKinds(): Promise<string[]> {
  return page.locator('[data-testid=timeline] li strong').allTextContents();
}

// The retry and DLQ routes come with the DLQ work (issue 4); these tests run
// as soon as those routes are part of the build.
const hasDlqRoutes = existsSync(resolve(ROOT, 'src/api/routes/api/v1/dlq'));

describe.skipIf(!hasDlqRoutes)('dashboard actions in Chromium', () => {
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
});
