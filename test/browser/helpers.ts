/** Shared helpers of the browser tests: Debian's chromium driven by playwright-core, artifacts. */
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { PublishedChart } from '../../web/src/spec.js';

export const CHROMIUM_PATH = process.env.BATCHLAB_CHROMIUM ?? '/usr/bin/chromium';

/** Where screenshots go for people to look at (gitignored). */
export const ARTIFACTS_DIR = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));

/** Why the browser tests are skipped on this machine, or undefined when they can run. */
export function skipReason(): string | undefined {
  return existsSync(CHROMIUM_PATH)
    ? undefined
    : `${CHROMIUM_PATH} not found: install Debian's chromium (CI does) to run the browser tests`;
}

/** Launches headless chromium (with `extraArgs`, e.g. --host-resolver-rules); never downloads a browser. */
export function launch(extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', ...extraArgs],
  });
}

export function artifactPath(name: string): string {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  return `${ARTIFACTS_DIR}${name}`;
}

/** Collects console errors, uncaught page errors and every requested URL of a page. */
export function watchPage(page: Page): { errors: string[]; requests: string[] } {
  const seen = { errors: [] as string[], requests: [] as string[] };
  page.on('console', (m) => {
    if (m.type() === 'error') seen.errors.push(m.text());
  });
  page.on('pageerror', (e) => seen.errors.push(e.message));
  page.on('request', (r) => seen.requests.push(r.url()));
  return seen;
}

/** What the page code publishes on window.__batchlab (web/src/spec.ts). */
export type { PublishedChart };

export async function publishedCharts(page: Page): Promise<PublishedChart[]> {
  return page.evaluate(() => (window as unknown as { __batchlab: { charts: PublishedChart[] } }).__batchlab.charts);
}

export async function waitReady(page: Page, timeoutMs = 10_000): Promise<void> {
  await page.waitForFunction(
    () => (window as unknown as { __batchlab?: { ready: boolean } }).__batchlab?.ready === true,
    null,
    { timeout: timeoutMs },
  );
}

/** A report file opened in a fresh browser (1400 x 900), watched for errors and requests, once its charts are ready; close `browser` when done. */
export async function openReport(
  reportPath: string,
  o: { acceptDownloads?: boolean } = {},
): Promise<{ browser: Browser; page: Page; seen: ReturnType<typeof watchPage> }> {
  const browser = await launch();
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, ...o });
  const page = await context.newPage();
  const seen = watchPage(page);
  await page.goto(pathToFileURL(reportPath).href);
  await waitReady(page);
  return { browser, page, seen };
}
