/**
 * What the playground's live charts plot, as data: ChartSpecs (../spec.ts, the report's chart description)
 * built from the runs' measured steps, evaluations and noise scale. Pure (no DOM, no TF.js), so what a chart
 * shows is tested in Node; ./charts.ts draws them with the report's uPlot code (../uplot.ts).
 */
import { median } from '../../../src/core/stats.js';
import type { EvalRecord, StepRecord } from '../../../src/core/types.js';
import { colorForBatch } from '../../../src/report/palette.js';
import type { ChartSpec, SeriesSpec } from '../spec.js';
import type { StringKey } from './strings.js';

/** What a chart needs of one run (PlaygroundRun has these fields). */
export interface RunSeries {
  config: { batchSize: number };
  steps: readonly StepRecord[];
  trainMsAt: readonly number[];
  evals: readonly EvalRecord[];
  noise: readonly { step: number; bSimple: number }[];
}

/** Chart ids, in page order; each names its title, note and axes in the string table. */
export const CHART_IDS = ['loss-steps', 'loss-samples', 'loss-time', 'accuracy', 'speed', 'noise', 'memory'] as const;
export type ChartId = (typeof CHART_IDS)[number];

/**
 * The loss against samples and against time is averaged over the last SMOOTH_SAMPLES training samples
 * (at least one step): the same amount of data for every batch size, so the curves compare at equal data
 * while the noise of single steps shows in the loss-against-steps chart.
 */
export const SMOOTH_SAMPLES = 128;

/** Points drawn per series at most: longer series keep every k-th point (and the last). */
export const MAX_POINTS = 1500;
/** The speed curve is the median of this many recent steps (one slow step must not make a spike). */
export const SPEED_WINDOW_STEPS = 20;

/** Indices 0..n-1 thinned to at most MAX_POINTS, always keeping the last. */
export function keptIndices(n: number): number[] {
  const every = Math.max(1, Math.ceil(n / MAX_POINTS));
  const out: number[] = [];
  for (let i = 0; i < n; i += every) out.push(i);
  if (n > 0 && out.at(-1) !== n - 1) out.push(n - 1);
  return out;
}

type Translate = (key: StringKey, params?: Record<string, string | number>) => string;

function runSeries(run: RunSeries, t: Translate, xs: (number | null)[], ys: (number | null | undefined)[]): SeriesSpec {
  const b = run.config.batchSize;
  return { label: t('series.run', { b }), color: colorForBatch(b), batchSize: b, runId: b, xs, ys };
}

/** Loss of every kept step against x(step index); smoothed: the mean over the last SMOOTH_SAMPLES samples. */
function lossSeries(run: RunSeries, t: Translate, x: (i: number) => number, smoothed: boolean): SeriesSpec {
  const idx = keptIndices(run.steps.length);
  const window = smoothed ? Math.max(1, Math.round(SMOOTH_SAMPLES / run.config.batchSize)) : 1;
  const loss = (i: number) => {
    const from = Math.max(0, i + 1 - window);
    let sum = 0;
    for (let k = from; k <= i; k++) sum += run.steps[k]!.loss;
    return sum / (i + 1 - from);
  };
  return runSeries(run, t, idx.map(x), idx.map(loss));
}

/**
 * Samples/s = B / median step time over the last SPEED_WINDOW_STEPS regular steps (a noise-measurement
 * step runs two half-batches and is left out, as the summary leaves it out), against training time.
 */
function speedSeries(run: RunSeries, t: Translate): SeriesSpec {
  const b = run.config.batchSize;
  const idx = keptIndices(run.steps.length).filter((i) => i >= SPEED_WINDOW_STEPS - 1);
  const ys = idx.map((i) => {
    const window = run.steps
      .slice(i + 1 - SPEED_WINDOW_STEPS, i + 1)
      .filter((s) => s.accumSteps === 1 && s.batchSize === b)
      .map((s) => s.stepMs);
    return window.length > 0 ? (b * 1000) / median(window) : undefined;
  });
  return runSeries(
    run,
    t,
    idx.map((i) => run.trainMsAt[i]! / 1000),
    ys,
  );
}

function spec(id: ChartId, t: Translate, axes: [StringKey, StringKey], series: SeriesSpec[]): ChartSpec {
  const key = {
    'loss-steps': 'lossSteps',
    'loss-samples': 'lossSamples',
    'loss-time': 'lossTime',
    accuracy: 'accuracy',
    speed: 'speed',
    noise: 'noise',
    memory: 'memory',
  }[id];
  // {n} in a note or an axis label: the samples a loss point averages, or the steps a speed point spans
  const n = id === 'speed' ? SPEED_WINDOW_STEPS : SMOOTH_SAMPLES;
  return {
    id,
    section: '',
    title: t(`chart.${key}` as StringKey),
    note: t(`chart.note.${key}` as StringKey, { n }),
    xLabel: t(axes[0], { n }),
    yLabel: t(axes[1], { n }),
    xLog: false,
    series,
    markers: [],
  };
}

/** The seven live charts of the runs, in CHART_IDS order. */
export function playgroundSpecs(runs: readonly RunSeries[], t: Translate): ChartSpec[] {
  const testEvals = (r: RunSeries) => r.evals.filter((e) => e.split === 'test');
  const memory = spec(
    'memory',
    t,
    ['axis.batch', 'axis.memoryMb'],
    runs.map((r) => {
      const peak = r.steps.reduce((m, s) => Math.max(m, s.peakBytes), 0);
      return { ...runSeries(r, t, [r.config.batchSize], [r.steps.length > 0 ? peak / 1e6 : undefined]), points: true };
    }),
  );
  return [
    // Log x: a large batch makes few steps, which a linear axis would squeeze against the left edge.
    {
      ...spec(
        'loss-steps',
        t,
        ['axis.steps', 'axis.loss'],
        runs.map((r) => lossSeries(r, t, (i) => r.steps[i]!.step, false)),
      ),
      xLog: true,
    },
    spec(
      'loss-samples',
      t,
      ['axis.samples', 'axis.lossSmoothed'],
      runs.map((r) => lossSeries(r, t, (i) => r.steps[i]!.samples, true)),
    ),
    spec(
      'loss-time',
      t,
      ['axis.timeS', 'axis.lossSmoothed'],
      runs.map((r) => lossSeries(r, t, (i) => r.trainMsAt[i]! / 1000, true)),
    ),
    {
      ...spec(
        'accuracy',
        t,
        ['axis.samples', 'axis.accuracyPct'],
        runs.map((r) =>
          runSeries(
            r,
            t,
            testEvals(r).map((e) => e.samples),
            testEvals(r).map((e) => (e.accuracy ?? Number.NaN) * 100),
          ),
        ),
      ),
      showPoints: true,
    },
    // Speeds and noise scales differ by factors between batch sizes: log y keeps every run readable.
    {
      ...spec(
        'speed',
        t,
        ['axis.timeS', 'axis.samplesPerSec'],
        runs.map((r) => speedSeries(r, t)),
      ),
      yLog: true,
    },
    {
      ...spec(
        'noise',
        t,
        ['axis.steps', 'axis.bSimple'],
        runs.map((r) => {
          const idx = keptIndices(r.noise.length);
          return runSeries(
            r,
            t,
            idx.map((i) => r.noise[i]!.step),
            idx.map((i) => r.noise[i]!.bSimple),
          );
        }),
      ),
      yLog: true,
    },
    { ...memory, xLog: true, xLogBase: 2, batchAxis: true },
  ];
}
