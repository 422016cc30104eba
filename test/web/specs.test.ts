/**
 * The page's chart specs and live-step merging, in Node: web/src/specs.ts and web/src/live.ts touch no DOM,
 * so what a chart plots is checked here without a browser.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/index.js';
import { loadReportData, type ReportData } from '../../src/report/index.js';
import { buildSpecs } from '../../web/src/specs.js';
import { addSteps, columnsAfter, mergeLiveTails } from '../../web/src/live.js';
import { at, numAt } from '../../web/src/json.js';
import { SYNTHETIC_SWEEP_CHARTS, writeSyntheticSweep } from '../report/synthetic.js';

const dir = mkdtempSync(join(tmpdir(), 'batchlab-web-specs-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let dbCount = 0;

function sweepData(
  runningSteps: number | null = null,
  oomBatchSize: number | null = null,
  seeds: number[] = [1],
): ReportData {
  const store = openStore(join(dir, `s${++dbCount}.db`));
  try {
    const { experimentId } = writeSyntheticSweep(store, {
      batchSizes: [16, 64, 256],
      seeds,
      stepsPerRun: 300,
      runningSteps,
      oomBatchSize,
    });
    return loadReportData(store, experimentId);
  } finally {
    store.close();
  }
}

describe('chart specs', () => {
  const data = sweepData();
  const specs = buildSpecs(data);

  it('plots the accuracy gap in the unit its axis names (percentage points, not fractions)', () => {
    const gap = specs.find((s) => s.id === 'gap')!;
    assert.match(gap.yLabel, /percentage points/);
    const runSeries = gap.series.filter((s) => s.runId !== undefined);
    assert.equal(runSeries.length, 3);
    for (const s of runSeries) {
      const run = data.runs.find((r) => r.id === s.runId)!;
      const fraction = numAt(run.summary, 'gap.accuracy')!;
      assert.ok(fraction > 0 && fraction < 0.1, `the stored gap is a fraction (${fraction})`);
      assert.ok(Math.abs((s.ys[0] as number) - 100 * fraction) < 1e-9, `B=${run.batchSize}: ${s.ys[0]} vs ${fraction}`);
    }
  });

  it('draws every chart the data supports, one series per run, failed runs left out', () => {
    const withOom = sweepData(null, 1024);
    const drawn = buildSpecs(withOom);
    assert.deepEqual(
      drawn.map((s) => s.id),
      SYNTHETIC_SWEEP_CHARTS,
    );
    for (const s of drawn) {
      const batchSizes = s.series.filter((x) => x.runId !== undefined).map((x) => x.batchSize);
      assert.deepEqual(batchSizes, [16, 64, 256], `${s.id}: the oom run at B=1024 is left out`);
    }
    const ticked = buildSpecs(withOom, new Set([withOom.runs[1]!.id]));
    assert.deepEqual(
      ticked[0]!.series.map((x) => x.batchSize),
      [64],
      'only the ticked run',
    );
  });
});

describe('intervals on the per-batch charts', () => {
  it("draws each run's own interval as error bars: Wilson on held-out accuracy, in the chart's unit", () => {
    const data = sweepData();
    const acc = buildSpecs(data).find((s) => s.id === 'accuracy')!;
    const runSeries = acc.series.filter((s) => s.runId !== undefined);
    assert.equal(runSeries.length, 3);
    for (const s of runSeries) {
      const run = data.runs.find((r) => r.id === s.runId)!;
      const wilson = at(run.summary, 'intervals.testAccuracy') as { low: number; high: number };
      assert.ok(s.points, 'a point series: its interval is an error bar');
      assert.ok(Math.abs((s.low![0] as number) - 100 * wilson.low) < 1e-9, `${s.low} vs ${wilson.low}`);
      assert.ok(Math.abs((s.high![0] as number) - 100 * wilson.high) < 1e-9);
      assert.ok((s.low![0] as number) < (s.ys[0] as number) && (s.ys[0] as number) < (s.high![0] as number));
    }
    assert.match(acc.note!, /Bars: each run's own 95% interval \(Wilson, from the held-out size\)/);
    assert.match(
      acc.note!,
      /Rests on 3 runs: 1 seed x 3 batch sizes, 2,000 held-out samples per run; budget: the same/,
    );
    assert.match(acc.note!, /Compared at equal samples/);
    assert.ok(!acc.series.some((s) => s.label.startsWith('mean over seeds')), 'one seed: no mean band');
  });

  it('with several seeds, draws the mean over seeds as a line with its t-interval band', () => {
    const data = sweepData(null, null, [1, 2, 3]);
    for (const id of ['throughput', 'step-time', 'loss-noise', 'accuracy', 'gap', 'sharpness', 'memory']) {
      const spec = buildSpecs(data).find((s) => s.id === id)!;
      const mean = spec.series.find((s) => s.label === 'mean over seeds (95% t interval)');
      assert.ok(mean, `${id} has a mean series`);
      assert.ok(!mean.points, 'a line: its interval is a band');
      assert.deepEqual(mean.xs, [16, 64, 256]);
      for (let i = 0; i < 3; i++)
        assert.ok(
          (mean.low![i] as number) <= (mean.ys[i] as number) && (mean.ys[i] as number) <= (mean.high![i] as number),
        );
      assert.match(spec.note!, /Rests on 9 runs: 3 seeds x 3 batch sizes/);
    }
  });
});

describe('saturation marker', () => {
  it('marks only a tested saturation inside the swept range, never an untested one', () => {
    const data = sweepData();
    const marker = (d: ReportData) =>
      buildSpecs(d)
        .find((s) => s.id === 'throughput')!
        .markers.map((m) => [m.axis, m.value]);
    assert.deepEqual(marker(data), [['x', 128]]);
    const old = structuredClone(data);
    const summary = old.experiment.summary as Record<string, unknown>;
    summary['findings'] = [{ effect: 'speed', text: 'it stops improving past B=1024', verdict: null }];
    summary['saturationBatch'] = 1024;
    assert.deepEqual(marker(old), [], 'a sweep stored before verdicts shows no saturation marker');
  });
});

describe('live steps', () => {
  it('appends only steps after the last one, with cumulative wall time', () => {
    const data = sweepData(100);
    const run = data.runs.find((r) => r.status === 'running')!;
    const wallBefore = run.lastWallS;
    const added = addSteps(run, {
      step: [99, 100, 101, 102],
      samples: [0, 0, 1, 2],
      loss: [1, 1, 0.5, null],
      stepMs: [5, 5, 10, 20],
    });
    assert.equal(added, 2);
    assert.equal(run.lastStep, 102);
    assert.ok(Math.abs(run.lastWallS - (wallBefore + 0.03)) < 1e-12);
    assert.deepEqual(run.steps.loss.slice(-2), [0.5, null]);
  });

  it('keeps live steps the reloaded data does not have yet, and only those', () => {
    const fresh = sweepData(100);
    const run = fresh.runs.find((r) => r.status === 'running')!;
    const tail = { step: [100, 101, 102], samples: [1, 2, 3], loss: [1, 1, 1], stepMs: [1, 1, 1] };
    const tails = new Map([[run.id, tail]]);
    mergeLiveTails(fresh, tails);
    assert.equal(run.lastStep, 102);
    assert.deepEqual(tails.get(run.id)!.step, [101, 102]);
    assert.deepEqual(columnsAfter(tail, 101).step, [102]);
  });
});

describe('find-max probes on the memory chart', () => {
  it('draws a peak that is only a bound (a JAX high-water mark) apart from the measured ones', () => {
    const data = sweepData();
    const probe = (batchSize: number, ok: boolean, peakAtMost: boolean, peakBytes: number) => ({
      id: batchSize,
      experimentId: data.experiment.id,
      batchSize,
      ok,
      kind: ok ? ('ok' as const) : ('over-budget' as const),
      peakBytes,
      rssBytes: null,
      ms: 10,
      message: null,
      phase: 'search' as const,
      peakAtMost,
    });
    const probes = [probe(100, true, false, 50e6), probe(150, true, true, 90e6), probe(300, false, false, 95e6)];
    const memory = buildSpecs({ ...data, probes }).find((s) => s.id === 'memory')!;
    const series = (label: RegExp) => memory.series.filter((s) => label.test(s.label));
    assert.deepEqual(series(/fits$/)[0]?.xs, [100], 'measured peaks only');
    assert.deepEqual(series(/peak at most/)[0]?.xs, [150]);
    assert.deepEqual(series(/peak at most/)[0]?.ys, [90]);
    assert.deepEqual(series(/refused/)[0]?.xs, [300]);
  });
});
