/**
 * The report of a branch experiment in chromium: the critical batch over training beside B_simple, both
 * with their intervals, against samples and against the base loss; the verdict of the proxy, the
 * per-checkpoint lines, the recommended schedule with its reasons, and the loss of the runs.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { type CheckpointMeasurement, summarizeBranches } from '../../src/core/branch-summary.js';
import type { NoiseStepRecord } from '../../src/core/noise.js';
import type { StepRecord } from '../../src/core/types.js';
import { writeReport } from '../../src/report/index.js';
import { openStore } from '../../src/store/index.js';
import { artifactPath, openReport, publishedCharts, skipReason, type watchPage } from './helpers.js';

const skip = skipReason();

/** |G|^2 = 1, tr(Sigma) = bSimple, measured at 8 and 16. */
function noiseSteps(bSimple: number): NoiseStepRecord[] {
  return Array.from({ length: 60 }, (_, i) => ({
    step: i + 1,
    batchSize: 16,
    microBatchSize: 8,
    accumSteps: 2,
    gradSqNorm: 1 + 0.05 * Math.sin(i) + bSimple / 16,
    microGradSqNorm: 1 + 0.05 * Math.sin(i) + bSimple / 8,
  }));
}

/** Checkpoints whose critical batch rises 16 -> 32 -> 64 -> at least 128, B_simple a little above it. */
function checkpoints(): CheckpointMeasurement[] {
  const excess: Record<number, number>[] = [
    { 32: 0.1, 64: 0.3, 128: 0.6 },
    { 32: 0.0, 64: 0.05, 128: 0.2 },
    { 32: 0.0, 64: 0.0, 128: 0.05 },
    { 32: 0.0, 64: 0.0, 128: 0.002 },
  ];
  return [500, 1000, 2000, 4000].map((samples, i) => ({
    samples,
    baseLoss: 1.5 / (i + 1),
    runs: [16, 32, 64, 128].flatMap((b) =>
      [1, 2, 3].map((seed) => ({ batchSize: b, seed, loss: 0.5 * (1 + 0.001 * seed) * (1 + (excess[i]![b] ?? 0)) })),
    ),
    noiseSteps: noiseSteps([20, 45, 90, 200][i]!),
  }));
}

describe('branch report in chromium', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'batchlab-branch-browser-'));
  const reportPath = join(dir, 'branch.html');
  let browser: Browser;
  let page: Page;
  let seen: ReturnType<typeof watchPage>;

  before(async () => {
    const store = openStore(join(dir, 'b.db'));
    const e = store.createExperiment({ kind: 'branch', settings: { baseBatch: 16, seeds: [1, 2, 3] }, env: {} });
    for (const [key, b, from] of [
      ['base:0-500', 16, 0],
      ['cp=500,b=64,seed=1', 64, 500],
    ] as const) {
      const run = store.upsertRun({ experimentId: e.id, key, batchSize: b, seed: 1, lr: 0.1 });
      store.startRun(run.id);
      const steps: StepRecord[] = Array.from({ length: 20 }, (_, i) => ({
        step: from / 16 + i + 1,
        samples: from + (i + 1) * b,
        loss: 2 / (1 + (from + i * b) / 400),
        lr: 0.1,
        stepMs: 2,
        batchSize: b,
        microBatchSize: b,
        accumSteps: 1,
        gradSqNorm: 1,
        microGradSqNorm: 1,
        peakBytes: 1000,
      }));
      store.appendSteps(run.id, steps);
    }
    const summary = summarizeBranches({
      baseBatch: 16,
      baseLr: 0.05,
      lrRule: 'linear',
      maxMicroBatch: 64,
      maxBatch: 60_000,
      checkpoints: checkpoints(),
      compute: { trainedSamples: 40_000, trainMs: 9_000, fullRunSamples: 8_000, baseSamples: 4_000, baseTrainMs: 800 },
      seed: 1,
    });
    store.setExperimentSummary(e.id, summary);
    store.setExperimentStatus(e.id, 'done');
    writeReport(store, e.id, reportPath);
    store.close();
    ({ browser, page, seen } = await openReport(reportPath));
  });
  after(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('draws the curve beside B_simple, against samples and against the loss, with intervals', async () => {
    assert.deepEqual(seen.errors, []);
    await page.screenshot({ path: artifactPath('branch-report.png'), fullPage: true });
    const charts = await publishedCharts(page);
    assert.deepEqual(
      charts.map((c) => c.id),
      ['critical-samples', 'critical-loss', 'loss-samples'],
    );
    for (const id of ['critical-samples', 'critical-loss']) {
      const c = charts.find((x) => x.id === id)!;
      const byLabel = new Map(c.series.map((s) => [s.label, s]));
      const measured = byLabel.get('critical batch (branches)')!;
      const open = byLabel.get('critical batch: at least / cannot tell')!;
      const noise = byLabel.get('B_simple (noise scale)')!;
      assert.deepEqual([measured.points, measured.intervals], [3, 3], `${id}: three measured checkpoints with ranges`);
      assert.deepEqual(
        [open.points, open.intervals],
        [1, 0],
        `${id}: the last is "at least 128", a point without a bar`,
      );
      assert.deepEqual(
        [noise.points, noise.intervals],
        [4, 4],
        `${id}: B_simple with its interval at every checkpoint`,
      );
    }
    assert.equal(charts.find((c) => c.id === 'critical-samples')!.xLog, true);
    assert.equal(charts.find((c) => c.id === 'critical-samples')!.series[0]!.lastX, 2000);
    assert.equal(await page.locator('#chart-critical-samples canvas').count(), 1);
  });

  it('shows the verdict of the proxy, the checkpoint lines, the schedule with reasons and the compute', async () => {
    const section = page.locator('#branch');
    const verdict = await section.locator('[data-verdict]').getAttribute('data-verdict');
    assert.ok(verdict === 'agrees' || verdict === 'differs', String(verdict));
    const text = await section.innerText();
    assert.match(text, /Critical batch over training \(4 checkpoints\)/);
    assert.match(text, /at 1,000 samples: critical batch 32/);
    assert.match(text, /at 4,000 samples: every branch up to B = 128 stays within 1%/);
    assert.equal(
      await page.locator('#branch-schedule').innerText(),
      '--batch-schedule "16@0,32@1000,64@2000,128@4000"',
    );
    assert.match(text, /2,000 samples: at 2,000 samples the critical batch is at least 64: 32 -> 64, LR 0.1 -> 0.2/);
    assert.match(text, /5x one full base run of 8,000 samples/);
  });

  it('saves the critical-batch chart as SVG with its interval bars', async () => {
    const svg = await page.evaluate(async () => {
      const button = document.querySelector('#chart-critical-samples .bl-svg') as HTMLButtonElement;
      const saved: string[] = [];
      const orig = URL.createObjectURL;
      URL.createObjectURL = (b: Blob | MediaSource) => {
        (b as Blob).text().then((t) => saved.push(t));
        return 'blob:x';
      };
      button.click();
      URL.createObjectURL = orig;
      await new Promise((r) => setTimeout(r, 50));
      return saved[0] ?? '';
    });
    assert.match(svg, /^<svg/);
    assert.ok((svg.match(/<line [^>]*stroke="#d62728"/g) ?? []).length >= 4, 'a bar per B_simple interval');
  });
});
