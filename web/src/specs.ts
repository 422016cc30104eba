/**
 * Chart specs: ReportData in, what to draw out (./spec.ts), no DOM. Each chart checks one claim of the usual
 * advice about batch size and says so in its title; a chart the data cannot support is left out.
 */
import { mb, num } from '../../src/core/format.js';
import type { ReportData, ReportRun } from '../../src/report/types.js';
import { at, isNum, isRecord, logGrid, numAt } from './json.js';
import { chartedRuns, peakBytesOf, runSeries, samplesPerSecOf, stepMsOf } from './runs.js';
import { branchSpecs } from './branch.js';
import type { ChartSpec, Marker, SeriesSpec } from './spec.js';

export const FIT_COLOR = '#333333';
/** Grid points of a fitted curve drawn across the batch-size axis. */
const FIT_POINTS = 64;
/** A fitted curve spans the batch sizes on its chart widened by this factor each way. */
const FIT_MARGIN = 1.5;
/** Accuracy fractions are plotted in percentage points: a gap of 0.008 is drawn as 0.8. */
const PERCENT_POINTS = 100;

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
  markers?: Partial<Marker>[];
  fits?: (Fit | null)[];
  /** Series drawn as they are (find-max probes). */
  extra?: SeriesSpec[];
}

/** Every chart the data supports, in page order; charts without data are left out. */
export function buildSpecs(data: ReportData, selected: ReadonlySet<number> = new Set()): ChartSpec[] {
  const runs = chartedRuns(data, selected);
  const sweep: Record<string, unknown> = data.experiment.summary ?? {};
  // A branch experiment's runs are windows of one run, not a sweep over B: its curve, and its loss vs samples.
  const specs: (ChartSpec | null)[] =
    data.experiment.kind === 'branch'
      ? [...branchSpecs(sweep), lossSpecs(runs)[1]!]
      : [
          ...lossSpecs(runs),
          evalSpec(runs),
          ...speedSpecs(runs, sweep),
          memorySpec(runs, sweep, data),
          ...tradeoffSpecs(runs, sweep),
          noiseSpec(runs),
          ...generalizationSpecs(runs),
        ];
  return specs.filter((s): s is ChartSpec => s?.series.some((x) => x.xs.length > 0) === true);
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
 * A chart with batch size on the x axis (log2): one point series per run (so each B keeps its colour)
 * plus optional fitted curves spanning every batch size on the chart (runs, probes and markers).
 */
function perBatchSpec(runs: ReportRun[], opts: PerBatchOptions): ChartSpec | null {
  const points = runs
    .map((run) => ({ run, y: opts.value(run) }))
    .filter((p): p is { run: ReportRun; y: number } => isNum(p.y) && (!opts.yLog || p.y > 0));
  const extra = opts.extra ?? [];
  if (points.length === 0 && !extra.some((s) => s.xs.length > 0)) return null; // e.g. find-max: probes, no runs
  const markers = (opts.markers ?? []).filter((m): m is Marker => isNum(m.value));
  const series: SeriesSpec[] = points.map((p) => ({
    ...runSeries(p.run, runs, [p.run.batchSize], [p.y]),
    points: true,
  }));
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
    note: opts.note,
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

function speedSpecs(runs: ReportRun[], sweep: Record<string, unknown>): (ChartSpec | null)[] {
  const alphaMs = numAt(sweep, 'stepTimeFit.alphaMs');
  const betaMs = numAt(sweep, 'stepTimeFit.betaMsPerSample');
  const sat = numAt(sweep, 'saturationBatch');
  const satMarker = { axis: 'x' as const, value: sat, label: `saturation B=${num(sat)}` };
  const t = alphaMs !== undefined && betaMs !== undefined ? (b: number) => alphaMs + betaMs * b : null;
  return [
    perBatchSpec(runs, {
      id: 'throughput',
      section: 'Speed',
      title: '"Larger batches use parallel hardware more efficiently": samples/s vs B',
      note: 'Median over steps after warm-up. The curve is B / t(B) from the fitted step time; past the saturation point doubling B gains under 10% samples/s.',
      yLabel: 'samples/s',
      value: samplesPerSecOf,
      markers: [satMarker],
      fits: [t && { label: 'fit B / t(B)', f: (b) => (b * 1000) / t(b) }],
    }),
    perBatchSpec(runs, {
      id: 'step-time',
      section: 'Speed',
      title: '"Larger batches take longer per iteration": ms/step vs B',
      note: t
        ? `Fit t(B) = ${num(alphaMs)} ms + ${num(betaMs, 3)} ms x B (r2 ${num(numAt(sweep, 'stepTimeFit.r2'))}): ` +
          'the fixed cost alpha is what larger batches amortize.'
        : 'Median step time after warm-up.',
      yLabel: 'ms per step (median)',
      value: stepMsOf,
      markers: [satMarker],
      fits: [t && { label: 'fit t(B) = alpha + beta*B', f: t }],
    }),
  ];
}

/** find-max probes as two ring series (fits / refused), peak in MB. */
function probeSeries(data: ReportData): SeriesSpec[] {
  const probes = data.probes
    .map((p) => ({ b: p.batchSize, y: p.peakBytes ?? p.rssBytes, ok: p.ok }))
    .filter((p): p is { b: number; y: number; ok: boolean } => isNum(p.y));
  return [true, false].flatMap((ok) => {
    const ps = probes.filter((p) => p.ok === ok);
    if (ps.length === 0) return [];
    return [
      {
        label: ok ? 'find-max probe: fits' : 'find-max probe: refused',
        color: ok ? '#000000' : '#dd0000',
        hollow: true,
        points: true,
        xs: ps.map((p) => p.b),
        ys: ps.map((p) => p.y / 1e6),
      },
    ];
  });
}

function memorySpec(runs: ReportRun[], sweep: Record<string, unknown>, data: ReportData): ChartSpec | null {
  const interceptBytes = numAt(sweep, 'memoryFit.interceptBytes');
  const bytesPerSample = numAt(sweep, 'memoryFit.bytesPerSample');
  const fitted = interceptBytes !== undefined && bytesPerSample !== undefined;
  return perBatchSpec(runs, {
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
function tradeoffSpecs(runs: ReportRun[], sweep: Record<string, unknown>): (ChartSpec | null)[] {
  const reached = runs.filter((r) => at(r.summary, 'target.reached') === true);
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
    perBatchSpec(reached, {
      id: 'steps-to-target',
      section: 'Speed',
      title: '"Larger batches train faster" (in steps, up to B_crit): steps to target vs B',
      note: `${note} Below B_crit doubling B nearly halves the steps; above it the steps stop falling.`,
      yLabel: 'steps to target',
      yLog: true,
      value: (r) => numAt(r.summary, 'target.steps'),
      markers: [marker],
      fits: [ok ? { label: 'fit S(B) = S_min (1 + B_crit/B)', f: (b) => sMin * (1 + bCrit / b) } : null],
    }),
    perBatchSpec(reached, {
      id: 'examples-to-target',
      section: 'Speed',
      title: 'The price of large batches: examples to target vs B',
      note: `${note} Past B_crit each doubling of B costs nearly twice the samples (compute).`,
      yLabel: 'samples to target',
      yLog: true,
      value: (r) => numAt(r.summary, 'target.samples'),
      markers: [marker],
      fits: [ok ? { label: 'fit E(B) = E_min (1 + B/B_crit)', f: (b) => eMin * (1 + b / bCrit) } : null],
    }),
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

/**
 * The gap against B, and sharpness. With accuracies for every run the gap is train minus held-out accuracy,
 * plotted in percentage points (a stored gap of 0.008 is drawn as 0.8, the axis says "percentage points");
 * otherwise held-out minus train loss.
 */
export function generalizationSpecs(runs: ReportRun[]): (ChartSpec | null)[] {
  const summarized = runs.filter((r) => isRecord(at(r.summary, 'gap')));
  const useAcc = summarized.length > 0 && summarized.every((r) => numAt(r.summary, 'gap.accuracy') !== undefined);
  return [
    perBatchSpec(runs, {
      id: 'gap',
      section: 'Generalization',
      title: '"Large batches can overfit": generalization gap vs B',
      note: useAcc
        ? 'Gap = train accuracy - held-out accuracy at the end of training, in percentage points; higher = more overfitting.'
        : 'Gap = held-out loss - train loss at the end of training; higher = more overfitting.',
      yLabel: useAcc ? 'gap (accuracy, percentage points)' : 'gap (loss)',
      value: (r) => {
        if (!useAcc) return numAt(r.summary, 'gap.loss');
        const gap = numAt(r.summary, 'gap.accuracy');
        return gap === undefined ? undefined : gap * PERCENT_POINTS;
      },
    }),
    perBatchSpec(runs, {
      id: 'sharpness',
      section: 'Generalization',
      title: '"Large batches can get stuck in worse minima": sharpness vs B',
      note: 'Top Hessian eigenvalue of the training loss at the end (power iteration); sharper minima (Keskar et al. 2017) tend to generalize worse.',
      yLabel: 'top Hessian eigenvalue',
      value: (r) => numAt(r.summary, 'sharpness.topEigenvalue'),
    }),
  ];
}
