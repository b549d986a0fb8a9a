import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ROOT } from './server.ts';

/** Where browser tests leave their screenshots (git-ignored). */
export const ARTIFACTS = resolve(ROOT, 'test-artifacts');

/** Debian's Chromium, headless, with nothing that reaches beyond this machine. */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: resolve(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Opens the dashboard and logs in with `key`. */
export async function logIn(page: Page, baseUrl: string, key: string): Promise<void> {
  await page.goto(`${baseUrl}/dashboard/`);
  await page.fill('input[name=key]', key);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=who]');
}

/** Opens a job's page and waits for its timeline; the page it is already on is reloaded. */
export async function openJob(page: Page, baseUrl: string, id: string): Promise<void> {
  const url = `${baseUrl}/dashboard/#/jobs/${encodeURIComponent(id)}`;
  // The same URL again is only a fragment navigation, which loads nothing: reload instead.
  if (page.url() === url) await page.reload();
  else await page.goto(url);
  await page.waitForSelector('[data-testid=timeline] li');
}
