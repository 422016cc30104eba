import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { openStore } from '../../src/store/index.js';
import { colorForBatch, writeReport } from '../../src/report/index.js';
import { SYNTHETIC_SWEEP_CHARTS, writeSyntheticSweep } from '../report/synthetic.js';
import { artifactPath, openReport, publishedCharts, skipReason, type watchPage } from './helpers.js';

const skip = skipReason();
if (skip) console.log(`# skipping report browser tests: ${skip}`);

const BATCH_SIZES = [16, 32, 64, 128, 256];

describe('HTML report in chromium', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'batchlab-report-browser-'));
  const reportPath = join(dir, 'report.html');
  let browser: Browser;
  let page: Page;
  let seen: ReturnType<typeof watchPage>;

  before(async () => {
    const store = openStore(join(dir, 'r.db'));
    const { experimentId } = writeSyntheticSweep(store, {
      batchSizes: BATCH_SIZES,
      seeds: [1, 2],
      stepsPerRun: 2000,
      oomBatchSize: 1024,
      probes: true,
    });
    writeReport(store, experimentId, reportPath);
    store.close();
    ({ browser, page, seen } = await openReport(reportPath, { acceptDownloads: true }));
  });
  after(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('opens with no console errors and no network request', async () => {
    assert.deepEqual(seen.errors, []);
    const foreign = seen.requests.filter(
      (u) => u !== pathToFileURL(reportPath).href && !u.startsWith('data:') && !u.startsWith('blob:'),
    );
    assert.deepEqual(foreign, []);
    await page.screenshot({ path: artifactPath('report.png'), fullPage: true });
  });

  it('draws every chart with one series per batch size, coloured by B', async () => {
    const charts = await publishedCharts(page);
    assert.deepEqual(
      charts.map((c) => c.id),
      SYNTHETIC_SWEEP_CHARTS,
    );
    for (const c of charts) {
      assert.deepEqual(c.batchSizes, BATCH_SIZES, `${c.id}: the oom run at B=1024 is left out, every other B is in`);
      for (const s of c.series.filter((x) => x.batchSize !== undefined)) {
        assert.equal(s.color, colorForBatch(s.batchSize!), `${c.id} ${s.label}`);
        assert.ok(s.points > 0, `${c.id} ${s.label} has points`);
      }
      assert.ok(c.title.length > 20, `${c.id} has a title naming its claim`);
    }
    const memory = charts.find((c) => c.id === 'memory')!;
    assert.ok(memory.series.some((s) => s.label === 'find-max probe: refused'));
    assert.ok(memory.markers.some((m) => m.axis === 'y' && m.value === 120));
    assert.ok(charts.find((c) => c.id === 'steps-to-target')!.markers.some((m) => /B_crit/.test(m.label)));
    assert.ok(charts.find((c) => c.id === 'throughput')!.series.some((s) => s.fit));
    assert.equal(await page.locator('#chart-loss-steps canvas').count(), 1);
  });

  it('shows the recommendation, the findings (marking the contradiction), the runs and the settings', async () => {
    assert.match(await page.locator('#recommendation').innerText(), /batchSize\s+256/);
    assert.equal(await page.locator('#findings li').count(), 4);
    assert.equal(await page.locator('#findings li.bl-contradicts').count(), 1);
    assert.equal(await page.locator('#findings li.bl-inconclusive').count(), 1);
    assert.match((await page.locator('#findings li.bl-inconclusive .bl-badge').textContent()) ?? '', /^inconclusive$/i);
    assert.equal(await page.locator('#per-batch tbody tr').count(), BATCH_SIZES.length, 'the per-batch table');
    assert.match(
      (await page.locator('#per-batch tbody tr').first().textContent()) ?? '',
      /^162\d+\.\d\d% \u00b1\d+\.\d\d/,
      'B=16, 2 runs, held-out accuracy with its interval',
    );
    assert.match(
      await page.locator('#findings li.bl-contradicts').innerText(),
      /contradicts the usual advice.*<not> a large effect/s,
    );
    const oomRow = page.locator('#runs tr.bl-failed');
    assert.equal(await oomRow.count(), 1);
    assert.match(await oomRow.innerText(), /oom.*out of memory at B=1024/s);
    assert.equal(await page.locator('#runs tbody tr').count(), 11);
    assert.match(await page.locator('#settings').innerText(), /backend\s+batchlab-native/);
    assert.match(await page.locator('#settings').innerText(), /lrRule\s+sqrt/);
  });

  it("draws each run's interval as an error bar and the mean over seeds as a band (2 seeds)", async () => {
    const charts = await publishedCharts(page);
    for (const id of ['accuracy', 'step-time', 'loss-noise']) {
      const chart = charts.find((c) => c.id === id)!;
      const runs = chart.series.filter((s) => s.batchSize !== undefined);
      assert.ok(runs.length > 0 && runs.every((s) => s.intervals === 1 && !s.band), `${id}: one error bar per run`);
      const mean = chart.series.find((s) => s.label === 'mean over seeds (95% t interval)')!;
      assert.ok(mean.band, `${id}: the mean is drawn with a band`);
      assert.equal(mean.intervals, BATCH_SIZES.length, `${id}: the band spans every batch size`);
    }
    const [svg] = await Promise.all([page.waitForEvent('download'), page.click('#chart-accuracy .bl-svg')]);
    const text = readFileSync((await svg.path())!, 'utf8');
    const runCount = BATCH_SIZES.length * 2;
    assert.equal((text.match(/<line /g) ?? []).length, runCount, 'one error bar per run');
    assert.equal((text.match(/<polygon /g) ?? []).length, 1, 'one band');
    assert.match(
      (await page.locator('#chart-accuracy .bl-note').textContent()) ?? '',
      /Rests on 10 runs: 2 seeds x 5 batch sizes, 2,000 held-out samples per run; budget: the same 60,000 samples/,
    );
  });

  it('toggles log x and saves a chart as PNG and SVG', async () => {
    await page.click('#chart-loss-samples .bl-logx');
    assert.equal((await publishedCharts(page)).find((c) => c.id === 'loss-samples')!.xLog, true);
    const [png] = await Promise.all([page.waitForEvent('download'), page.click('#chart-memory .bl-png')]);
    assert.equal(png.suggestedFilename(), 'batchlab-memory.png');
    assert.deepEqual([...readFileSync((await png.path())!).subarray(1, 4)], [...Buffer.from('PNG')]);
    const [svg] = await Promise.all([page.waitForEvent('download'), page.click('#chart-loss-steps .bl-svg')]);
    const text = readFileSync((await svg.path())!, 'utf8');
    assert.match(text, /^<svg xmlns/);
    assert.equal((text.match(/<polyline/g) ?? []).length, BATCH_SIZES.length * 2, 'one polyline per run');
    assert.deepEqual(seen.errors, []);
  });

  it('compares ticked runs only', async () => {
    const b64 = page.locator('#runs input[aria-label="compare b=64,seed=1"]');
    await b64.check();
    const charts = await publishedCharts(page);
    assert.deepEqual(charts.find((c) => c.id === 'loss-steps')!.batchSizes, [64]);
    await page.locator('#runs input[aria-label="compare b=64,seed=1"]').uncheck();
    assert.deepEqual((await publishedCharts(page)).find((c) => c.id === 'loss-steps')!.batchSizes, BATCH_SIZES);
  });
});
