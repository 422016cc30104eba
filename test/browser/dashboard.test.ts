import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { openStore, type Store } from '../../src/store/index.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { lcg, syntheticSteps, writeSyntheticSweep, type SyntheticSweep } from '../report/synthetic.js';
import {
  artifactPath,
  launch,
  publishedCharts,
  skipReason,
  waitReady,
  watchPage,
  type PublishedChart,
} from './helpers.js';

const skip = skipReason();
if (skip) console.log(`# skipping dashboard browser tests: ${skip}`);

/** The last step the page draws for run `runId` in the loss-vs-steps chart. */
function lastStepOf(charts: PublishedChart[], runId: number): number | null {
  return charts.find((c) => c.id === 'loss-steps')?.series.find((s) => s.runId === runId)?.lastX ?? null;
}

describe('live dashboard in chromium', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'batchlab-dashboard-'));
  const dbPath = join(dir, 'live.db');
  let writer: Store;
  let sweep: SyntheticSweep;
  let server: RunningServer;
  let browser: Browser;
  let pages: Page[];
  let seen: ReturnType<typeof watchPage>[];

  before(async () => {
    writer = openStore(dbPath);
    sweep = writeSyntheticSweep(writer, { batchSizes: [16, 64, 256], stepsPerRun: 400, runningSteps: 100 });
    server = await startServer({ dbPath, port: 0 }); // the default 500 ms poll, as users get it
    browser = await launch();
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    pages = [await context.newPage(), await context.newPage()]; // two tabs on the same experiment
    seen = pages.map(watchPage);
    for (const page of pages) {
      await page.goto(`${server.url}/experiments/${sweep.experimentId}`);
      await waitReady(page);
    }
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    writer?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the experiments', async () => {
    const page = await browser.newPage();
    await page.goto(server.url);
    await page.waitForSelector(`#experiments tr[data-experiment-id="${sweep.experimentId}"]`);
    assert.match(await page.locator('#experiments tbody').innerText(), /sweep\s+running/);
    await page.close();
  });

  it('draws the experiment with one series per batch size', async () => {
    const charts = await publishedCharts(pages[0]!);
    assert.deepEqual(charts.find((c) => c.id === 'loss-steps')!.batchSizes, [16, 64, 256]);
    assert.equal(lastStepOf(charts, sweep.runningRun!.id), 100);
  });

  it('shows steps a running sweep appends within 2 s, in every tab', async () => {
    const running = sweep.runningRun!;
    const t0 = Date.now();
    writer.appendSteps(running.id, syntheticSteps(256, 101, 40, lcg(9)));
    for (const page of pages) {
      await page.waitForFunction(
        (id) => {
          const charts = (window as unknown as { __batchlab: { charts: PublishedChart[] } }).__batchlab.charts;
          const s = charts.find((c) => c.id === 'loss-steps')?.series.find((x) => x.runId === id);
          return s !== undefined && s.lastX === 140;
        },
        running.id,
        { timeout: 2000 },
      );
    }
    const elapsedMs = Date.now() - t0;
    assert.ok(elapsedMs < 2000, `took ${elapsedMs} ms`);
    assert.match(await pages[0]!.locator(`#runs tr[data-run-id="${running.id}"]`).innerText(), /\b140\b/);
    await pages[0]!.screenshot({ path: artifactPath('dashboard.png'), fullPage: true });
  });

  it('reloads when a run finishes', async () => {
    const running = sweep.runningRun!;
    writer.finishRun(running.id, { status: 'diverged', reason: 'loss became NaN at step 141 with learning rate 0.2' });
    const row = pages[1]!.locator(`#runs tr[data-run-id="${running.id}"]`);
    await pages[1]!.waitForFunction(
      (id) => document.querySelector(`#runs tr[data-run-id="${id}"]`)?.classList.contains('bl-failed'),
      running.id,
      { timeout: 3000 },
    );
    assert.match(await row.innerText(), /diverged.*loss became NaN/s);
    await waitReady(pages[1]!);
    assert.deepEqual(
      (await publishedCharts(pages[1]!)).find((c) => c.id === 'loss-steps')!.batchSizes,
      [16, 64],
      'the diverged run leaves the charts',
    );
  });

  it('had no console errors in any tab', () => {
    for (const s of seen) assert.deepEqual(s.errors, []);
  });
});
