/**
 * The HTML report of a study in chromium: a study of the simulated task (test/lab/study-sim.ts, the runs
 * written through runStudy as the worker writes them), then its report: steps and examples to target vs B
 * on log-log axes with the fitted curve, the perfect-scaling line and B_crit; the best LR vs B; the LR
 * search per batch size; the loss of each batch size's best trial.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { runStudy, type StudyResult } from '../../src/lab/study/study.js';
import { writeReport } from '../../src/report/index.js';
import { openStore } from '../../src/store/index.js';
import { simulatedExecute, simulatedSettings } from '../lab/study-sim.js';
import { artifactPath, openReport, publishedCharts, skipReason, type watchPage } from './helpers.js';

const skip = skipReason();
if (skip) console.log(`# skipping study report browser tests: ${skip}`);

const BATCH_SIZES = [16, 64, 256, 512, 1024];

describe('HTML report of a study in chromium', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'batchlab-study-report-'));
  const reportPath = join(dir, 'study.html');
  let browser: Browser;
  let page: Page;
  let seen: ReturnType<typeof watchPage>;
  let study: StudyResult;

  before(async () => {
    const dbPath = join(dir, 's.db');
    study = await runStudy({ dbPath, settings: simulatedSettings() }, { execute: simulatedExecute({}).execute });
    const store = openStore(dbPath, { readonly: true });
    writeReport(store, study.experiment.id, reportPath);
    store.close();
    ({ browser, page, seen } = await openReport(reportPath));
  });
  after(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("draws the study charts and the best trials' loss, with no console error", async () => {
    const charts = await publishedCharts(page);
    assert.deepEqual(
      charts.map((c) => c.id),
      ['study-steps', 'study-examples', 'study-best-lr', 'study-lr-search', 'loss-steps', 'loss-samples', 'loss-wall'],
    );
    for (const c of charts) assert.deepEqual(c.batchSizes, BATCH_SIZES, c.id);
    assert.deepEqual(seen.errors, []);
    await page.screenshot({ path: artifactPath('study-report.png'), fullPage: true });
  });

  it('steps to target: log-log, the tuned point of every B, the fitted curve, the perfect-scaling line and B_crit', async () => {
    const steps = (await publishedCharts(page)).find((c) => c.id === 'study-steps')!;
    assert.equal(steps.xLog, true);
    const perB = steps.series.filter((s) => s.batchSize !== undefined);
    assert.deepEqual(
      perB.map((s) => s.points),
      BATCH_SIZES.map(() => 1),
    );
    assert.ok(steps.series.some((s) => s.fit && /S_min \+ E_min \/ B/.test(s.label)));
    assert.ok(steps.series.some((s) => /perfect scaling/.test(s.label)));
    const bCrit = study.summary.fit!.bCrit.estimate;
    const marker = steps.markers.find((m) => /^B_crit/.test(m.label));
    assert.ok(marker !== undefined && Math.abs(marker.value - bCrit) < 1e-9, `${marker?.value} vs ${bCrit}`);
    const examples = (await publishedCharts(page)).find((c) => c.id === 'study-examples')!;
    assert.ok(examples.markers.some((m) => m.axis === 'y' && /^E_min/.test(m.label)));
  });

  it('the LR search shows every search trial: reached ones on a line, stopped ones as rings', async () => {
    const search = (await publishedCharts(page)).find((c) => c.id === 'study-lr-search')!;
    assert.equal(search.xLog, true);
    const drawn = search.series.reduce((n, s) => n + s.points, 0);
    const trials = study.summary.batches.flatMap((b) =>
      b.trials.filter((t) => t.seed === b.trials[0]!.seed && t.outcome !== 'diverged'),
    );
    assert.equal(drawn, trials.length);
    assert.ok(
      search.series.some((s) => /stopped before the target/.test(s.label)),
      'cut trials are drawn',
    );
    const bestLr = (await publishedCharts(page)).find((c) => c.id === 'study-best-lr')!;
    assert.ok(bestLr.series.some((s) => /grid centre \(sqrt rule\)/.test(s.label)));
    assert.ok(bestLr.series.some((s) => s.fit && /LR proportional to B\^/.test(s.label)));
  });

  it('lists what the study shows', async () => {
    const text = (await page.locator('#findings').textContent()) ?? '';
    assert.match(text, /B_crit = E_min \/ S_min/);
    assert.match(text, /the study processed/);
  });
});
