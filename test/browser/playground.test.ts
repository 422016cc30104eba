/**
 * The playground (dist/playground, written by `npm run build`) in Debian's chromium, opened from disk with
 * every request outside the page's own files refused: it trains side by side, reports its backend, gives
 * the same losses on the same seed, speaks English and Romanian with no key left untranslated, draws the
 * loss landscape, and leaves screenshots in test-artifacts/.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { EN, RO, type StringKey } from '../../web/src/playground/strings.js';
import { artifactPath, launch, skipReason, watchPage } from './helpers.js';

const INDEX = fileURLToPath(new URL('../../dist/playground/index.html', import.meta.url));
const skip = skipReason() ?? (existsSync(INDEX) ? undefined : `${INDEX} is missing: run npm run build first`);
if (skip) console.log(`# skipping playground browser tests: ${skip}`);

/** The spiral after 30 epochs: ln 3 = 1.10 at the start; both runs reach about 0.4-0.5 on this machine. */
const LOSS_THRESHOLD = 0.7;
/** Training in a shared 2-core machine: minutes, not seconds. */
const TRAIN_TIMEOUT_MS = 300_000;

interface Published {
  ready: boolean;
  phase: string;
  lang: string;
  backend: { name: string; attempts: { name: string; ok: boolean }[] } | null;
  charts: { id: string; series: { batchSize?: number; points: number }[] }[];
  runs: {
    batchSize: number;
    losses: number[];
    finalTrainLoss: number | null;
    finalTestAccuracy: number | null;
    samplesPerSec: number | null;
  }[];
  verdicts: { effect: string; claim: string; verdict: string }[];
  landscape: { ready: boolean; counts: { batchSize: number; escaped: number; seeds: number }[] };
  stringKeys: { en: string[]; ro: string[] };
  tensors: number;
  readyMs: number | null;
}

const published = (page: Page): Promise<Published> =>
  page.evaluate(() => (window as unknown as { __batchlab: Published }).__batchlab);

/**
 * A context whose pages may load only local files (and the blob:/data: URLs they make): every other
 * request is aborted and recorded, so a page that tried the network fails the test.
 */
async function offlineContext(browser: Browser, viewport = { width: 1280, height: 720 }) {
  const context = await browser.newContext({ viewport });
  const refused: string[] = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (/^(file|blob|data):/.test(url)) return route.continue();
    refused.push(url);
    return route.abort('blockedbyclient');
  });
  return { context, refused };
}

async function open(
  context: BrowserContext,
  query: string,
): Promise<{ page: Page; seen: ReturnType<typeof watchPage> }> {
  const page = await context.newPage();
  const seen = watchPage(page);
  await page.goto(pathToFileURL(INDEX).href + query);
  await page.waitForFunction(() => (window as unknown as { __batchlab?: Published }).__batchlab?.ready === true, null, {
    timeout: 60_000,
  });
  return { page, seen };
}

async function trainToEnd(page: Page): Promise<Published> {
  await page.focus('#pg-train');
  await page.keyboard.press('Enter'); // the keyboard reaches and starts training
  await page.waitForFunction(
    () => ['done', 'failed'].includes((window as unknown as { __batchlab: Published }).__batchlab.phase),
    null,
    { timeout: TRAIN_TIMEOUT_MS, polling: 500 },
  );
  return published(page);
}

/** Keys of the string table and long English phrases that must not appear in the page's text. */
async function untranslated(page: Page, lang: 'en' | 'ro'): Promise<string[]> {
  // biome-ignore lint/performance/useDomNodeTextContent: the text a reader sees (rendered), not hidden nodes
  const text = await page.evaluate(() => document.body.innerText);
  const keys = (Object.keys(EN) as StringKey[]).filter((k) => text.includes(k));
  if (lang === 'en') return keys;
  // every literal piece (between placeholders) of an English string that differs from its Romanian one
  const english = (Object.keys(EN) as StringKey[])
    .filter((k) => EN[k] !== RO[k])
    .flatMap((k) => EN[k].split(/\{\w+\}/))
    .map((piece) => piece.trim())
    .filter((piece) => piece.length >= 16);
  return [...keys, ...english.filter((piece) => text.includes(piece))];
}

describe('the playground in chromium', { skip }, () => {
  let browser: Browser;
  before(async () => {
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
  });

  it('offline, trains B = 8 and B = 256 on the spiral below the loss threshold, with live charts and verdicts', async () => {
    const { context, refused } = await offlineContext(browser);
    try {
      const { page, seen } = await open(context, '?b=8,256&data=spiral&epochs=30');
      const start = await published(page);
      const tried = start.backend!.attempts.map((a) => a.name);
      assert.ok(tried.includes(start.backend!.name), `backend ${start.backend!.name} is one it tried: ${tried}`);
      assert.deepEqual(tried, ['webgpu', 'webgl', 'wasm', 'cpu'].slice(0, tried.length), 'tried in order');
      assert.match((await page.textContent('.pg-backend')) ?? '', new RegExp(start.backend!.name, 'i'));
      const tensorsBefore = start.tensors;
      const end = await trainToEnd(page);
      assert.equal(end.phase, 'done');
      for (const run of end.runs) {
        assert.ok(run.finalTrainLoss! < LOSS_THRESHOLD, `B = ${run.batchSize}: final loss ${run.finalTrainLoss}`);
        assert.ok(run.samplesPerSec! > 0);
      }
      const drawn = end.charts.filter((c) => c.series.filter((s) => s.points > 0).length === 2);
      assert.ok(drawn.length >= 4, `charts with both runs drawn: ${drawn.map((c) => c.id)}`);
      assert.ok((await page.locator('.pg-chart canvas').count()) >= 4);
      assert.equal(end.verdicts.length, 8, 'memory 1, speed 2, stability 2, generalization 3 claims');
      for (const v of end.verdicts) assert.ok(['agrees', 'contradicts', 'inconclusive', 'none'].includes(v.verdict));
      assert.equal(
        end.verdicts.find((v) => v.claim === 'memory')!.verdict,
        'agrees',
        'B = 256 holds more activations than B = 8',
      );
      assert.deepEqual(await untranslated(page, 'en'), []);
      await page.screenshot({ path: artifactPath('playground-en.png'), fullPage: true });
      await page.click('#pg-reset');
      assert.equal((await published(page)).tensors, tensorsBefore, 'a reset frees every tensor of the runs');
      assert.deepEqual(seen.errors, []);
      assert.deepEqual(refused, [], 'no request left the page');
      assert.deepEqual(
        seen.requests.filter((u) => !/^(file|blob|data):/.test(u)),
        [],
      );
    } finally {
      await context.close();
    }
  });

  it('the same seed and settings give the same losses step for step across two page loads (wasm)', async () => {
    const { context } = await offlineContext(browser);
    try {
      const losses: number[][][] = [];
      for (let load = 0; load < 2; load++) {
        const { page } = await open(context, '?backend=wasm&b=8,64&epochs=3&seed=4');
        assert.equal((await published(page)).backend!.name, 'wasm');
        const end = await trainToEnd(page);
        losses.push(end.runs.map((r) => r.losses));
        await page.close();
      }
      assert.equal(losses[0]![0]!.length, 192, 'B = 8: 3 epochs of 64 steps');
      assert.deepEqual(losses[1], losses[0]);
    } finally {
      await context.close();
    }
  });

  it('speaks Romanian (training on the MNIST subset) with the same string keys and no key or English phrase shown; the link keeps the settings', async () => {
    const { context } = await offlineContext(browser);
    try {
      const { page, seen } = await open(context, '?lang=ro&data=mnist&b=16,128&epochs=1');
      const state = await published(page);
      assert.deepEqual([...state.stringKeys.ro].sort(), [...state.stringKeys.en].sort());
      assert.equal(await page.getAttribute('html', 'lang'), 'ro');
      assert.equal(await page.inputValue('#pg-batchSizes'), '16, 128');
      const end = await trainToEnd(page); // on the MNIST subset, loaded from mnist-subset.js next to the page
      assert.equal(end.phase, 'done');
      assert.ok(end.runs[0]!.finalTestAccuracy! > 0.6, `B = 16 after one epoch: ${end.runs[0]!.finalTestAccuracy}`);
      assert.deepEqual(await untranslated(page, 'ro'), []);
      await page.screenshot({ path: artifactPath('playground-ro.png'), fullPage: true });
      // a changed field goes into the address, and the address opens with it
      await page.fill('#pg-epochs', '5');
      await page.dispatchEvent('#pg-epochs', 'change');
      const url = page.url();
      assert.match(url, /epochs=5/);
      await page.goto(url);
      await page.waitForFunction(() => (window as unknown as { __batchlab?: Published }).__batchlab?.ready === true);
      assert.equal(await page.inputValue('#pg-epochs'), '5');
      assert.equal(await page.inputValue('#pg-lang'), 'ro');
      await page.selectOption('#pg-lang', 'en');
      assert.equal((await published(page)).lang, 'en');
      assert.deepEqual(await untranslated(page, 'en'), []);
      assert.deepEqual(seen.errors, []);
    } finally {
      await context.close();
    }
  });

  it('shows the loss landscape: every batch size with its count of seeds that left the sharp minimum', async () => {
    const { context } = await offlineContext(browser);
    try {
      const { page, seen } = await open(context, '?view=landscape');
      await page.waitForFunction(
        () => (window as unknown as { __batchlab: Published }).__batchlab.landscape.ready === true,
        null,
        { timeout: 60_000 },
      );
      const { counts } = (await published(page)).landscape;
      assert.deepEqual(
        counts.map((c) => [c.batchSize, c.seeds]),
        [
          [1, 20],
          [2, 20],
          [64, 20],
        ],
      );
      assert.ok(counts[0]!.escaped > counts[2]!.escaped, 'B = 1 leaves the sharp minimum more often than B = 64');
      assert.equal(await page.locator('.pg-counts li').count(), 3);
      assert.match((await page.textContent('.pg-honest')) ?? '', /does not happen for every seed/);
      assert.deepEqual(await untranslated(page, 'en'), []);
      await page.screenshot({ path: artifactPath('playground-landscape.png'), fullPage: true });
      await page.selectOption('#pg-lang', 'ro');
      await page.waitForFunction(
        () => (window as unknown as { __batchlab: Published }).__batchlab.landscape.ready === true,
      );
      assert.deepEqual(await untranslated(page, 'ro'), []);
      await page.screenshot({ path: artifactPath('playground-landscape-ro.png'), fullPage: true });
      assert.deepEqual(seen.errors, []);
    } finally {
      await context.close();
    }
  });

  it('is usable on a phone-sized screen, and Pause stops the runs until Resume', async () => {
    const { context } = await offlineContext(browser, { width: 390, height: 844 });
    try {
      const { page } = await open(context, '?b=8,64&epochs=5');
      const steps = async () => (await published(page)).runs.reduce((n, r) => n + r.losses.length, 0);
      await page.click('#pg-train');
      await page.waitForFunction(() => {
        const p = (window as unknown as { __batchlab: Published }).__batchlab;
        return p.phase === 'training' && p.runs.some((r) => r.losses.length > 0);
      });
      assert.equal(await page.textContent('#pg-train'), 'Pause');
      await page.click('#pg-train');
      assert.equal((await published(page)).phase, 'paused');
      const paused = await steps();
      await page.waitForTimeout(500);
      assert.equal(await steps(), paused, 'no step while paused');
      assert.equal(await page.textContent('#pg-train'), 'Resume');
      const end = await trainToEnd(page);
      assert.equal(end.phase, 'done');
      assert.equal(await steps(), 5 * 64 + 5 * 8, 'resumed where it stopped: 5 epochs of each run');
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen`);
      await page.screenshot({ path: artifactPath('playground-phone.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });
});
