/**
 * Debian's Chromium driven by playwright-core, for the report's browser test and the README's
 * screenshot: headless, no sandbox, no background traffic, a fresh profile removed on close, and
 * never a browser download. Each page records its console errors and every request leaving it.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** Where Debian's `chromium` package puts the browser (.ci/run installs it). */
export const CHROMIUM = '/usr/bin/chromium';

/** The launch flags: headless and quiet (no updates, sync or other background requests). */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** A page of a report, with what it logged and requested. */
export interface ReportPage {
  page: import('playwright-core').Page;
  /** Console errors and uncaught exceptions, in order. */
  errors: string[];
  /** Every request other than the report file itself. */
  requests: string[];
}

/** A running browser with a temp profile; `close` ends it and removes the profile. */
export interface Browser {
  open(file: string, fragment?: string): Promise<ReportPage>;
  close(): Promise<void>;
}

/** Starts Chromium with a fresh profile (`--user-data-dir` via playwright's persistent context). */
export async function startChromium(viewport = { width: 1100, height: 900 }): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Expected Chromium at ${CHROMIUM} (apt-get install -y chromium), found nothing`);
  process.env.PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD = '1';
  const { chromium } = await import('playwright-core');
  const profile = await mkdtemp(path.join(os.tmpdir(), 'rollout-harness-chromium-'));
  let context: import('playwright-core').BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport, offline: true });
  } catch (error) {
    await rm(profile, { recursive: true, force: true });
    throw error;
  }
  return {
    async open(file, fragment) {
      const url = pathToFileURL(path.resolve(file)).href;
      const page = await context.newPage();
      const errors: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(e.message));
      // Record and refuse anything but the page itself: a report must need nothing else.
      page.on('request', (r) => {
        if (r.url().split('#')[0] !== url && !requests.includes(r.url())) requests.push(r.url());
      });
      await page.route('**/*', (route) => (route.request().url().split('#')[0] === url ? route.continue() : route.abort()));
      await page.goto(fragment ? `${url}#${fragment}` : url, { waitUntil: 'load' });
      return { page, errors, requests };
    },
    async close() {
      await context.close().catch(() => {});
      await rm(profile, { recursive: true, force: true });
    },
  };
}
