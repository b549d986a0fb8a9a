import { createServer, type Server } from 'node:http';
import { resolve } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { launchBrowser, logIn, screenshot } from '../helpers/browser.ts';
import { READ_KEY, startDashboardServer } from '../helpers/dashboard.ts';
import { api, type TestServer } from '../helpers/server.ts';
import { tempDir, waitFor } from '../helpers/runtime.ts';
import { flowPlugin, writePlugin } from '../plugins/plugin-files.ts';

const FAILURES = resolve(import.meta.dirname, '..', 'fixtures', 'failure-plugins');

let server: TestServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let target: Server;
let targetUrl = '';
const pluginDir = tempDir('tm-dash-plugins-');

beforeAll(async () => {
  // A local downstream that is down.
  target = createServer((req, res) => {
    req.resume();
    res.writeHead(503).end();
  });
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  targetUrl = `http://127.0.0.1:${(target.address() as { port: number }).port}/`;

  writePlugin(pluginDir, 'flow', flowPlugin('1.0.0'));
  [server, browser] = await Promise.all([
    startDashboardServer(inject('redisUrl'), {
      plugins: { dirs: [FAILURES, pluginDir], builtins: false, watch: false },
      outbound: { allow: ['127.0.0.1'] },
      breakers: { failureThreshold: 2, windowMs: 60_000, openMs: 600_000 },
    }),
    launchBrowser(),
  ]);
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await new Promise((r) => target?.close(r));
});
beforeEach(async () => {
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  await logIn(page, server.url, READ_KEY);
});
afterEach(async () => {
  await context?.close();
});

describe('system page in Chromium', () => {
  it('shows each circuit breaker with its state, counts and since when', async () => {
    const call = { type: 'outage.call', payload: { url: targetUrl, downstream: 'payments-api' }, retries: 5 };
    await api(server, 'POST', '/api/v1/jobs/bulk', { jobs: [call, call] });
    const open = await waitFor(async () => {
      const { body } = await api(server, 'GET', '/api/v1/breakers');
      return body.breakers.find((b: any) => b.downstream === 'payments-api' && b.state === 'open');
    });

    await page.goto(`${server.url}/dashboard/#/system`);
    const row = page.locator('[data-breaker=payments-api]');
    await row.waitFor();
    const cells = await row.locator('td').allTextContents();
    expect(cells.slice(0, 2)).toEqual(['payments-api', 'open']);
    expect(cells[2]).toBe(new Date(open.since).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z'));
    expect(cells[3]).toBe('2 / 2');
    await screenshot(page, 'system-breakers');
  });

  it('shows the plugin versions a process rejected, with the error', async () => {
    writePlugin(pluginDir, 'flow', 'export default { name: "flow", version: ');
    const reload = await api(server, 'POST', '/api/v1/plugins/reload');
    expect(reload.body.ok).toBe(false);

    await page.goto(`${server.url}/dashboard/#/system`);
    const rejected = page.locator('[data-testid=workers] [data-testid=rejected] .rejected');
    await rejected.first().waitFor({ timeout: 20_000 });
    expect(await rejected.first().locator('strong').textContent()).toContain('flow');
    expect(await rejected.first().locator('pre').textContent()).toMatch(/cannot import/);
    // The version before keeps serving, and the page says so beside the rejection.
    expect(await page.textContent('[data-testid=workers] tbody tr')).toContain('flow@1.0.0');
    await screenshot(page, 'system-rejected');
  });
});
