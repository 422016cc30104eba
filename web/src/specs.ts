/**
 * Chart specs: ReportData in, what to draw out (./spec.ts), no DOM. Each chart checks one claim of the usual
 * advice about batch size and says so in its title; a chart the data cannot support is left out.
 */
import { batchStats } from '../../src/core/batch-stats.js';
import { mb, num } from '../../src/core/format.js';
import type { BatchStats, BatchValue, RunSummary } from '../../src/core/summary.js';
import type { ReportData, ReportRun } from '../../src/report/types.js';
import { at, isNum, isRecord, logGrid, numAt } from './json.js';
import {
  chartedRuns,
  intervalAt,
  peakBytesOf,
  type RunInterval,
  runSeries,
  samplesPerSecIntervalOf,
  samplesPerSecOf,
  stepMsOf,
} from './runs.js';
import { branchSpecs } from './branch.js';
import type { ChartSpec, Marker, SeriesSpec } from './spec.js';
import { noiseAtTargetSpec, studyBestRuns, studySpecs } from './study.js';

export const FIT_COLOR = '#333333';
/** Grid points of a fitted curve drawn across the batch-size axis. */
const FIT_POINTS = 64;
/** A fitted curve spans the batch sizes on its chart widened by this factor each way. */
const FIT_MARGIN = 1.5;
/** Accuracy fractions are plotted in percentage points: a gap of 0.008 is drawn as 0.8. */
const PERCENT_POINTS = 100;
/** Colour of the mean-over-seeds line and its band. */
export const MEAN_COLOR = '#000000';

/** A fitted curve y = f(B) over the batch-size axis. */
interface Fit {
  label: string;
  f: (batchSize: number) => number;
}

interface PerBatchOptions {
  id: string;
  section: string;
  title: string;
  note: string;
  yLabel: string;
  yLog?: boolean;
  /** The run's value at its batch size (undefined: no point). */
  value: (run: ReportRun) => number | undefined;
  /** The run's own interval, in the chart's units (drawn as error bars), and how it was computed. */
  interval?: { of: (run: ReportRun) => RunInterval | undefined; method: string };
  /** The mean over seeds at one batch size with its t interval, in the chart's units (a line with a band). */
  mean?: (b: BatchStats) => BatchValue | undefined;
  markers?: Partial<Marker>[];
  fits?: (Fit | null)[];
  /** Series drawn as they are (find-max probes). */
  extra?: SeriesSpec[];
}

/** What every per-batch chart shares: the runs drawn, their per-batch stats, and what they rest on. */
interface ChartContext {
  runs: ReportRun[];
  stats: BatchStats[];
  /** "Rests on 21 runs: 3 seeds x 7 batch sizes; budget: ...", for every chart's note. */
  restsOn: string;
}

/** Every chart the data supports, in page order; charts without data are left out. */
export function buildSpecs(data: ReportData, selected: ReadonlySet<number> = new Set()): ChartSpec[] {
  const runs = chartedRuns(data, selected);
  // A study's runs are its trials (many LRs per batch size): its own charts, and the loss of each B's best trial.
  if (data.experiment.kind === 'study') {
    return [...studySpecs(data), ...lossSpecs(studyBestRuns(data, runs))].filter((s) =>
      s.series.some((x) => x.xs.length > 0),
    );
  }
  const sweep: Record<string, unknown> = data.experiment.summary ?? {};
  const ctx = chartContext(runs, sweep);
  // A branch experiment's runs are windows of one run, not a sweep over B: its curve, and its loss vs samples.
  const specs: (ChartSpec | null)[] =
    data.experiment.kind === 'branch'
      ? [...branchSpecs(sweep), lossSpecs(runs)[1]!]
      : [
          noiseAtTargetSpec(data),
          ...lossSpecs(runs),
          evalSpec(runs),
          ...speedSpecs(ctx, sweep),
          memorySpec(ctx, sweep, data),
          ...tradeoffSpecs(ctx, sweep),
          noiseSpec(runs),
          lossNoiseSpec(ctx),
          ...generalizationSpecs(ctx, sweep),
        ];
  return specs.filter((s): s is ChartSpec => s?.series.some((x) => x.xs.length > 0) === true);
}

/** The finished runs' summaries, their per-batch stats, and the words of what the charts rest on. */
function chartContext(runs: ReportRun[], sweep: Record<string, unknown>): ChartContext {
  const summaries = runs
    .filter((r) => r.status === 'done' && isRecord(r.summary) && isRecord(at(r.summary, 'stepMs')))
    .map((r) => r.summary as unknown as RunSummary);
  return { runs, stats: batchStats(summaries), restsOn: restsOnWords(summaries, sweep) };
}

/** "Rests on 21 runs: 3 seeds x 7 batch sizes, 10,000 held-out samples per run; budget: ...". */
export function restsOnWords(summaries: readonly RunSummary[], sweep: Record<string, unknown>): string {
  if (summaries.length === 0) return '';
  const seeds = new Set(summaries.map((r) => r.seed)).size;
  const sizes = new Set(summaries.map((r) => r.batchSize)).size;
  const heldOut = new Set(summaries.map((r) => r.final.test.count));
  const [n] = heldOut;
  const heldOutWords = heldOut.size === 1 && isNum(n) ? `, ${num(n)} held-out samples per run` : '';
  const budget = typeof sweep['budget'] === 'string' ? `; budget: ${sweep['budget']}` : '';
  return (
    `Rests on ${summaries.length} run${summaries.length === 1 ? '' : 's'}: ${seeds} seed${seeds === 1 ? '' : 's'} x ` +
    `${sizes} batch size${sizes === 1 ? '' : 's'}${heldOutWords}${budget}.`
  );
}

/** A per-batch value in other units (bytes to MB, a fraction to percentage points). */
function scaled(v: BatchValue | undefined, k: number): BatchValue | undefined {
  if (v === undefined) return undefined;
  return {
    ...v,
    estimate: v.estimate * k,
    ...(isNum(v.low) ? { low: v.low * k } : {}),
    ...(isNum(v.high) ? { high: v.high * k } : {}),
  };
}

/** Training loss against steps, samples and wall time. */
function lossSpecs(runs: ReportRun[]): ChartSpec[] {
  const loss = (
    opts: Pick<ChartSpec, 'id' | 'section' | 'title' | 'note' | 'xLabel'> & { x: 'step' | 'samples' | 'wallS' },
  ) => ({
    ...opts,
    yLabel: 'training loss',
    xLog: false,
    xLogToggle: true,
    series: runs.map((r) => runSeries(r, runs, r.steps[opts.x], r.steps.loss)),
    markers: [],
  });
  return [
    loss({
      id: 'loss-steps',
      section: 'Stability',
      x: 'step',
      xLabel: 'step',
      title: '"Small batches make training less stable": training loss vs steps',
      note: 'Per-step loss, min/max per bucket kept when downsampled: the band width is the update noise; small batches wobble more, large ones move further per step.',
    }),
    loss({
      id: 'loss-samples',
      section: 'Speed',
      x: 'samples',
      xLabel: 'samples seen',
      title: '"Larger batches train faster", per sample: training loss vs samples seen',
      note: 'At equal samples (equal compute), small batches often reach a lower loss: they update more often.',
    }),
    loss({
      id: 'loss-wall',
      section: 'Speed',
      x: 'wallS',
      xLabel: 'training time (s, cumulative step time)',
      title: '"Larger batches train faster", in time: training loss vs wall time',
      note: 'Time is the sum of step times (evaluations excluded); this is where parallel hardware pays off.',
    }),
  ];
}

function evalSpec(runs: ReportRun[]): ChartSpec | null {
  const useAcc = runs.some((r) => r.evals.test.accuracy.some(isNum));
  const withEvals = runs.filter((r) => r.evals.test.step.length > 0);
  if (withEvals.length === 0) return null;
  const what = useAcc ? 'accuracy' : 'loss';
  return {
    id: 'eval',
    section: 'Generalization',
    title: `"Small batches can generalize better": held-out ${what} vs samples seen`,
    note: 'Each run evaluated on held-out data during training; compare the curves at equal samples seen.',
    xLabel: 'samples seen',
    yLabel: `held-out ${what}`,
    xLog: false,
    xLogToggle: true,
    showPoints: true,
    series: withEvals.map((r) =>
      runSeries(r, runs, r.evals.test.samples, useAcc ? r.evals.test.accuracy : r.evals.test.loss),
    ),
    markers: [],
  };
}

/**
 * A chart with batch size on the x axis (log2): one point series per run (so each B keeps its colour), with
 * the run's own interval as error bars; with several seeds, the mean over seeds as a line with its 95% t
 * interval as a band; plus optional fitted curves spanning every batch size on the chart.
 */
function perBatchSpec(ctx: ChartContext, opts: PerBatchOptions, runs: ReportRun[] = ctx.runs): ChartSpec | null {
  const points = runs
    .map((run) => ({ run, y: opts.value(run) }))
    .filter((p): p is { run: ReportRun; y: number } => isNum(p.y) && (!opts.yLog || p.y > 0));
  const extra = opts.extra ?? [];
  if (points.length === 0 && !extra.some((s) => s.xs.length > 0)) return null; // e.g. find-max: probes, no runs
  const markers = (opts.markers ?? []).filter((m): m is Marker => isNum(m.value));
  const series: SeriesSpec[] = points.map((p) => {
    const i = opts.interval?.of(p.run);
    return { ...runSeries(p.run, runs, [p.run.batchSize], [p.y]), points: true, low: [i?.low], high: [i?.high] };
  });
  const mean = opts.mean ? meanSeries(ctx.stats, opts.mean) : null;
  if (mean) series.push(mean);
  const batchSizes = [
    ...points.map((p) => p.run.batchSize),
    ...extra.flatMap((s) => s.xs.filter(isNum)),
    ...markers.filter((m) => m.axis === 'x').map((m) => m.value),
  ];
  const grid = logGrid(Math.min(...batchSizes) / FIT_MARGIN, Math.max(...batchSizes) * FIT_MARGIN, FIT_POINTS);
  for (const fit of opts.fits ?? []) {
    if (fit)
      series.push({ label: fit.label, color: FIT_COLOR, dash: [6, 4], fit: true, xs: grid, ys: grid.map(fit.f) });
  }
  series.push(...extra);
  return {
    id: opts.id,
    section: opts.section,
    title: opts.title,
    note: [opts.note, readingWords(opts, mean !== null), ctx.restsOn].filter((x) => x !== '').join(' '),
    xLabel: 'batch size B (log2)',
    yLabel: opts.yLabel,
    xLog: true,
    xLogBase: 2,
    yLog: !!opts.yLog,
    batchAxis: true,
    series,
    markers,
  };
}

/** How to read the bars and the band of a per-batch chart. */
function readingWords(opts: PerBatchOptions, withMean: boolean): string {
  const bars = opts.interval ? `Bars: each run's own 95% interval (${opts.interval.method}).` : '';
  const band = withMean ? 'Black line and band: the mean over seeds with its 95% Student-t interval.' : '';
  return [bars, band].filter((x) => x !== '').join(' ');
}

/** The mean over seeds per batch size as a line with its t-interval band; null unless some B has 2+ runs. */
function meanSeries(stats: readonly BatchStats[], mean: (b: BatchStats) => BatchValue | undefined): SeriesSpec | null {
  const rows = stats
    .map((b) => ({ b: b.batchSize, v: mean(b) }))
    .filter((r): r is { b: number; v: BatchValue } => r.v !== undefined && isNum(r.v.estimate));
  if (!rows.some((r) => r.v.runs >= 2)) return null;
  const bound = (r: { v: BatchValue }, end: 'low' | 'high'): number | null =>
    r.v.runs >= 2 && isNum(r.v[end]) ? (r.v[end] as number) : null;
  return {
    label: 'mean over seeds (95% t interval)',
    color: MEAN_COLOR,
    xs: rows.map((r) => r.b),
    ys: rows.map((r) => r.v.estimate),
    low: rows.map((r) => bound(r, 'low')),
    high: rows.map((r) => bound(r, 'high')),
  };
}

const BOOTSTRAP_METHOD = 'circular block bootstrap over its steps';

function speedSpecs(ctx: ChartContext, sweep: Record<string, unknown>): (ChartSpec | null)[] {
  const alphaMs = numAt(sweep, 'stepTimeFit.alphaMs');
  const betaMs = numAt(sweep, 'stepTimeFit.betaMsPerSample');
  // Only a tested saturation inside the swept range (a sweep stored before verdicts has none to show).
  const findings = Array.isArray(sweep['findings']) ? sweep['findings'] : [];
  const sat = numAt(
    findings.find((f) => at(f, 'claim') === 'samples-per-sec'),
    'saturation.saturatedFrom',
  );
  const satMarker = { axis: 'x' as const, value: sat, label: `saturated from B=${num(sat)}` };
  const t = alphaMs !== undefined && betaMs !== undefined ? (b: number) => alphaMs + betaMs * b : null;
  return [
    perBatchSpec(ctx, {
      id: 'throughput',
      section: 'Speed',
      title: '"Larger batches use parallel hardware more efficiently": samples/s vs B',
      note:
        'Median over steps after warm-up. The curve is B / t(B) from the fitted step time. A saturation marker, ' +
        'when shown, is where every further doubling up to the largest batch swept gains under 10% samples/s ' +
        'beyond the noise; nothing is said past the largest batch swept.',
      yLabel: 'samples/s',
      value: samplesPerSecOf,
      interval: { of: samplesPerSecIntervalOf, method: `from the ${BOOTSTRAP_METHOD} of the median step time` },
      mean: (b) => b.samplesPerSec,
      markers: [satMarker],
      fits: [t && { label: 'fit B / t(B)', f: (b) => (b * 1000) / t(b) }],
    }),
    perBatchSpec(ctx, {
      id: 'step-time',
      section: 'Speed',
      title: '"Larger batches take longer per iteration": ms/step vs B',
      note: t
        ? `Fit t(B) = ${num(alphaMs)} ms + ${num(betaMs, 3)} ms x B (r2 ${num(numAt(sweep, 'stepTimeFit.r2'))}): ` +
          'the fixed cost alpha is what larger batches amortize.'
        : 'Median step time after warm-up.',
      yLabel: 'ms per step (median)',
      value: stepMsOf,
      interval: { of: (r) => intervalAt(r, 'intervals.stepMs'), method: BOOTSTRAP_METHOD },
      mean: (b) => b.stepMs,
      markers: [satMarker],
      fits: [t && { label: 'fit t(B) = alpha + beta*B', f: t }],
    }),
  ];
}

/** Loss noise against B, with each run's bootstrap interval and the mean over seeds. */
function lossNoiseSpec(ctx: ChartContext): ChartSpec | null {
  return perBatchSpec(ctx, {
    id: 'loss-noise',
    section: 'Stability',
    title: '"Small batches make training noisier": loss noise vs B',
    note: 'Loss noise = RMS of the per-step training loss around its two-sided moving average (steps after the first 10%).',
    yLabel: 'loss noise (RMS around the EMA)',
    value: (r) => numAt(r.summary, 'lossNoise'),
    interval: { of: (r) => intervalAt(r, 'intervals.lossNoise'), method: BOOTSTRAP_METHOD },
    mean: (b) => b.lossNoise,
  });
}

/** How a find-max probe is drawn: its series' label and colour. */
const PROBE_GROUPS = [
  { group: 'fits', label: 'find-max probe: fits', color: '#000000' },
  // A JAX high-water mark set before the probe: drawn where the peak is at most, apart from measured peaks.
  { group: 'bound', label: 'find-max probe: fits, peak at most (a high-water mark)', color: '#888888' },
  { group: 'refused', label: 'find-max probe: refused', color: '#dd0000' },
] as const;

/** find-max probes as ring series (fits / fits with only a bound on the peak / refused), peak in MB. */
function probeSeries(data: ReportData): SeriesSpec[] {
  const probes = data.probes
    .map((p) => ({
      b: p.batchSize,
      y: p.peakBytes ?? p.rssBytes,
      group: !p.ok ? 'refused' : p.peakAtMost ? 'bound' : 'fits',
    }))
    .filter((p): p is { b: number; y: number; group: 'fits' | 'bound' | 'refused' } => isNum(p.y));
  return PROBE_GROUPS.flatMap(({ group, label, color }) => {
    const ps = probes.filter((p) => p.group === group);
    if (ps.length === 0) return [];
    return [{ label, color, hollow: true, points: true, xs: ps.map((p) => p.b), ys: ps.map((p) => p.y / 1e6) }];
  });
}

function memorySpec(ctx: ChartContext, sweep: Record<string, unknown>, data: ReportData): ChartSpec | null {
  const interceptBytes = numAt(sweep, 'memoryFit.interceptBytes');
  const bytesPerSample = numAt(sweep, 'memoryFit.bytesPerSample');
  const fitted = interceptBytes !== undefined && bytesPerSample !== undefined;
  return perBatchSpec(ctx, {
    id: 'memory',
    section: 'Memory',
    title: '"A larger batch needs more memory": peak memory vs B',
    note: fitted
      ? `Fit peak = ${mb(interceptBytes)} MB + ${num(bytesPerSample / 1e3)} kB x B (r2 ${num(numAt(sweep, 'memoryFit.r2'))}): ` +
        'the intercept is weights and optimizer state, the slope activations per sample.'
      : 'Tensor high-water mark of one training step.',
    yLabel: 'peak memory (MB)',
    value: (r) => {
      const bytes = peakBytesOf(r);
      return bytes === undefined ? undefined : bytes / 1e6;
    },
    mean: (b) => scaled(b.peakBytes, 1e-6),
    fits: [fitted ? { label: 'fit a + b*B', f: (b) => (interceptBytes + bytesPerSample * b) / 1e6 } : null],
    markers: [
      {
        axis: 'y',
        value: isNum(data.budgetBytes) ? data.budgetBytes / 1e6 : undefined,
        label: `budget ${mb(data.budgetBytes)} MB`,
        color: '#dd0000',
      },
    ],
    extra: probeSeries(data),
  });
}

/** Steps and examples to the target against B, with the fitted trade-off and B_crit (McCandlish et al. 2018). */
function tradeoffSpecs(ctx: ChartContext, sweep: Record<string, unknown>): (ChartSpec | null)[] {
  const reached = ctx.runs.filter((r) => at(r.summary, 'target.reached') === true);
  if (reached.length === 0) return [];
  const sMin = numAt(sweep, 'tradeoff.sMin');
  const eMin = numAt(sweep, 'tradeoff.eMin');
  const bCrit = numAt(sweep, 'tradeoff.bCrit') ?? (sMin !== undefined && eMin !== undefined ? eMin / sMin : undefined);
  const ok = sMin !== undefined && eMin !== undefined && bCrit !== undefined;
  const marker = { axis: 'x' as const, value: bCrit, label: `B_crit = ${num(bCrit)}` };
  const note = ok
    ? `Fit (S/S_min - 1)(E/E_min - 1) = 1: S_min = ${num(sMin)} steps, E_min = ${num(eMin)} samples, ` +
      `B_crit = E_min/S_min = ${num(bCrit)} (r2 ${num(numAt(sweep, 'tradeoff.r2'))}).`
    : 'Runs that reached the target.';
  return [
    perBatchSpec(
      ctx,
      {
        id: 'steps-to-target',
        section: 'Speed',
        title: '"Larger batches train faster" (in steps, up to B_crit): steps to target vs B',
        note: `${note} Below B_crit doubling B nearly halves the steps; above it the steps stop falling.`,
        yLabel: 'steps to target',
        yLog: true,
        value: (r) => numAt(r.summary, 'target.steps'),
        mean: (b) => b.stepsToTarget,
        markers: [marker],
        fits: [ok ? { label: 'fit S(B) = S_min (1 + B_crit/B)', f: (b) => sMin * (1 + bCrit / b) } : null],
      },
      reached,
    ),
    perBatchSpec(
      ctx,
      {
        id: 'examples-to-target',
        section: 'Speed',
        title: 'The price of large batches: examples to target vs B',
        note: `${note} Past B_crit each doubling of B costs nearly twice the samples (compute).`,
        yLabel: 'samples to target',
        yLog: true,
        value: (r) => numAt(r.summary, 'target.samples'),
        markers: [marker],
        fits: [ok ? { label: 'fit E(B) = E_min (1 + B/B_crit)', f: (b) => eMin * (1 + b / bCrit) } : null],
      },
      reached,
    ),
  ];
}

/** The run's B_simple series as [step, B_simple] (summary.noise.series; null where not estimated), or []. */
function noiseSeriesOf(run: ReportRun): [number, number | null][] {
  const series = at(run.summary, 'noise.series');
  if (!Array.isArray(series)) return [];
  return series
    .filter((p): p is unknown[] => Array.isArray(p) && isNum(p[0]))
    .map((p) => [p[0] as number, isNum(p[1]) ? p[1] : null]);
}

function noiseSpec(runs: ReportRun[]): ChartSpec | null {
  const withSeries = runs.filter((r) => noiseSeriesOf(r).length > 0);
  if (withSeries.length === 0) return null;
  return {
    id: 'b-simple',
    section: 'Stability',
    title: '"Small batches add noise to the updates": gradient noise scale B_simple over training',
    note: 'B_simple = tr(S)/|G|^2 (McCandlish et al. 2018): batches well below it are noise-dominated, batches well above it waste samples. Non-positive estimates are not drawn.',
    xLabel: 'step',
    yLabel: 'B_simple (log)',
    xLog: false,
    xLogToggle: true,
    yLog: true,
    series: withSeries.map((r) => {
      const s = noiseSeriesOf(r);
      return runSeries(
        r,
        runs,
        s.map((p) => p[0]),
        s.map((p) => p[1]),
      );
    }),
    markers: [],
  };
}

/** What the generalization charts compare, in words, from the sweep's summary. */
function comparisonWords(sweep: Record<string, unknown>): string {
  const c = sweep['comparison'];
  if (c === 'equal-train-loss')
    return 'Compared at equal training loss: runs that never reached the target loss are left out.';
  if (c === 'equal-held-out-target') return 'Compared at the held-out target: runs that never reached it are left out.';
  if (c === 'equal-samples')
    return 'Compared at equal samples: larger batches took fewer steps, so part of any fall is under-training (a --budget target=train-loss:X sweep compares at equal training loss).';
  if (c === 'equal-steps') return 'Compared at equal steps: larger batches saw more samples.';
  return '';
}

/**
 * Held-out accuracy, the gap and sharpness against B. With accuracies for every run the gap is train minus
 * held-out accuracy, plotted in percentage points (a stored gap of 0.008 is drawn as 0.8, the axis says
 * "percentage points"); otherwise held-out minus train loss. At a target budget only the runs that reached
 * it are compared (as in the findings).
 */
export function generalizationSpecs(ctx: ChartContext, sweep: Record<string, unknown> = {}): (ChartSpec | null)[] {
  const atTarget = sweep['comparison'] === 'equal-train-loss' || sweep['comparison'] === 'equal-held-out-target';
  const runs = atTarget ? ctx.runs.filter((r) => at(r.summary, 'target.reached') === true) : ctx.runs;
  const compared = atTarget ? chartContext(runs, sweep) : ctx;
  const summarized = runs.filter((r) => isRecord(at(r.summary, 'gap')));
  const useAcc = summarized.length > 0 && summarized.every((r) => numAt(r.summary, 'gap.accuracy') !== undefined);
  const how = comparisonWords(sweep);
  const pp = (i: RunInterval | undefined): RunInterval | undefined =>
    i && { low: i.low * PERCENT_POINTS, high: i.high * PERCENT_POINTS };
  return [
    sweep['comparison'] === 'equal-held-out-target'
      ? null
      : perBatchSpec(compared, {
          id: 'accuracy',
          section: 'Generalization',
          title: '"Small batches generalize better": held-out accuracy vs B',
          note: `Held-out accuracy at the end of training, in percent. ${how}`.trim(),
          yLabel: 'held-out accuracy (%)',
          value: (r) => {
            const acc = numAt(r.summary, 'final.test.accuracy');
            return acc === undefined ? undefined : acc * PERCENT_POINTS;
          },
          interval: {
            of: (r) => pp(intervalAt(r, 'intervals.testAccuracy')),
            method: 'Wilson, from the held-out size',
          },
          mean: (b) => scaled(b.testAccuracy, PERCENT_POINTS),
        }),
    perBatchSpec(compared, {
      id: 'gap',
      section: 'Generalization',
      title: '"Large batches can overfit": generalization gap vs B',
      note: `${
        useAcc
          ? 'Gap = train accuracy - held-out accuracy at the end of training, in percentage points; higher = more overfitting.'
          : 'Gap = held-out loss - train loss at the end of training; higher = more overfitting.'
      } ${how}`.trim(),
      yLabel: useAcc ? 'gap (accuracy, percentage points)' : 'gap (loss)',
      value: (r) => {
        if (!useAcc) return numAt(r.summary, 'gap.loss');
        const gap = numAt(r.summary, 'gap.accuracy');
        return gap === undefined ? undefined : gap * PERCENT_POINTS;
      },
      mean: (b) => (useAcc ? scaled(b.gapAccuracy, PERCENT_POINTS) : b.gapLoss),
    }),
    perBatchSpec(compared, {
      id: 'sharpness',
      section: 'Generalization',
      title: '"Large batches can get stuck in worse minima": sharpness vs B',
      note: `Top Hessian eigenvalue of the training loss at the end (power iteration); sharper minima (Keskar et al. 2017) tend to generalize worse. ${how}`.trim(),
      yLabel: 'top Hessian eigenvalue',
      value: (r) => numAt(r.summary, 'sharpness.topEigenvalue'),
      mean: (b) => b.sharpness,
    }),
  ];
}
