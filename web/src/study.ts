/**
 * The charts of a study (`batchlab study`, summary core/study-plan.ts StudySummary): steps and examples to
 * the target against B on log-log axes with the fitted curve, the perfect-scaling line and B_crit; the best
 * LR against B next to the grid centres of the scaling rule; and every batch size's LR search (steps
 * against LR). The summary is read by path, as stored (an unbounded interval end is null), so a page
 * draws what an older or newer batchlab wrote, leaving out what it cannot read.
 */
import { num } from '../../src/core/format.js';
import type { ReportData, ReportRun } from '../../src/report/types.js';
import { at, isNum, isRecord, logGrid, numAt } from './json.js';
import type { ChartSpec, Marker, SeriesSpec } from './spec.js';

const FIT_COLOR = '#333333';
const GUIDE_COLOR = '#999999';
/** Grid points of a fitted curve, and how far it reaches past the studied batch sizes each way. */
const FIT_POINTS = 64;
const FIT_MARGIN = 1.5;

/** A trial as stored in the summary. */
interface Trial {
  runId: number;
  lr: number;
  seed: number;
  outcome: string;
  steps: number;
}

/** One batch size of the study as the charts need it. */
interface Batch {
  batchSize: number;
  centerLr?: number;
  bestLr?: number;
  /** The points the fit used: replicates at the best LR when there are any, else the search seed's. */
  points: Trial[];
  trials: Trial[];
  color: string;
  runId?: number;
}

function trialOf(x: unknown): Trial | undefined {
  if (!isRecord(x) || !isNum(x['lr']) || !isNum(x['steps'])) return undefined;
  return {
    runId: isNum(x['runId']) ? x['runId'] : -1,
    lr: x['lr'],
    seed: isNum(x['seed']) ? x['seed'] : 0,
    outcome: String(x['outcome'] ?? ''),
    steps: x['steps'],
  };
}

const trialsAt = (x: unknown, path: string): Trial[] => {
  const list = at(x, path);
  return Array.isArray(list) ? list.map(trialOf).filter((t): t is Trial => t !== undefined) : [];
};

/** The study's batch sizes from its summary, coloured like their runs. */
function studyBatches(data: ReportData): Batch[] {
  const list = at(data.experiment.summary, 'batches');
  if (!Array.isArray(list)) return [];
  const colorOf = (runId: number | undefined, b: number): string =>
    data.runs.find((r) => r.id === runId)?.color ?? data.runs.find((r) => r.batchSize === b)?.color ?? FIT_COLOR;
  return list.filter(isRecord).flatMap((b) => {
    const batchSize = numAt(b, 'batchSize');
    if (batchSize === undefined) return [];
    const atBest = trialsAt(b, 'result.atBest');
    const replicates = atBest.slice(1).filter((t) => t.outcome === 'reached');
    const points = (atBest.length > 1 ? replicates : atBest).filter((t) => t.outcome === 'reached');
    const runId = atBest[0]?.runId;
    return [
      {
        batchSize,
        centerLr: numAt(b, 'centerLr'),
        bestLr: numAt(b, 'result.bestLr'),
        points,
        trials: trialsAt(b, 'trials'),
        color: colorOf(runId, batchSize),
        runId,
      },
    ];
  });
}

/** Steps to the target at B: the mean of the points the fit used (one per seed at the best LR). */
function meanSteps(b: Batch): number {
  return b.points.reduce((s, t) => s + t.steps, 0) / b.points.length;
}

/** A series of one batch size's points, in its colour (runId and batchSize set, so tests see the batch sizes). */
function batchSeries(b: Batch, xs: number[], ys: number[], extra: Partial<SeriesSpec> = {}): SeriesSpec {
  return {
    label: `B=${b.batchSize}`,
    color: b.color,
    runId: b.runId,
    batchSize: b.batchSize,
    points: true,
    xs,
    ys,
    ...extra,
  };
}

/** A chart with the batch size on a log2 x axis and a log y axis. */
function logLogBatchChart(
  o: Pick<ChartSpec, 'id' | 'title' | 'note' | 'yLabel' | 'markers'> & { series: SeriesSpec[] },
): ChartSpec {
  return {
    ...o,
    section: 'Speed',
    xLabel: 'batch size B (log2)',
    xLog: true,
    xLogBase: 2,
    yLog: true,
    batchAxis: true,
  };
}

/** The fitted S_min, E_min and B_crit (with its interval) of the summary, when the fit is there. */
function fitOf(
  data: ReportData,
): { sMin: number; eMin: number; bCrit?: number; low?: number; high?: number } | undefined {
  const summary = data.experiment.summary;
  const sMin = numAt(summary, 'fit.sMin.estimate');
  const eMin = numAt(summary, 'fit.eMin.estimate');
  if (sMin === undefined || eMin === undefined) return undefined;
  return {
    sMin,
    eMin,
    bCrit: numAt(summary, 'fit.bCrit.estimate'),
    low: numAt(summary, 'fit.bCrit.low'),
    high: numAt(summary, 'fit.bCrit.high'),
  };
}

/** The B_crit marker, with its interval in the label ("and up" when unbounded). */
function bCritMarker(fit: ReturnType<typeof fitOf>): Marker[] {
  if (fit?.bCrit === undefined) return [];
  const range = `${num(fit.low)}..${fit.high === undefined ? 'unbounded' : num(fit.high)}`;
  return [{ axis: 'x', value: fit.bCrit, label: `B_crit = ${num(fit.bCrit)} (${range})` }];
}

/** A fitted curve f(B) across the studied batch sizes, drawn where it is positive (log axes). */
function fitCurve(label: string, batches: readonly Batch[], f: (b: number) => number, color = FIT_COLOR): SeriesSpec {
  const sizes = batches.map((b) => b.batchSize);
  const grid = logGrid(Math.min(...sizes) / FIT_MARGIN, Math.max(...sizes) * FIT_MARGIN, FIT_POINTS);
  return { label, color, dash: [6, 4], fit: true, xs: grid, ys: grid.map((b) => (f(b) > 0 ? f(b) : null)) };
}

/** Steps to the target against B: the tuned points, the fitted S(B), the perfect-scaling line, B_crit. */
function stepsChart(data: ReportData, batches: Batch[], target: string): ChartSpec {
  const fit = fitOf(data);
  const reached = batches.filter((b) => b.points.length > 0);
  const series = reached.map((b) => batchSeries(b, [b.batchSize], [meanSteps(b)]));
  const first = reached[0];
  if (first) {
    const s0 = meanSteps(first);
    series.push(
      fitCurve('perfect scaling: S proportional to 1/B', batches, (b) => (s0 * first.batchSize) / b, GUIDE_COLOR),
    );
  }
  if (fit) series.push(fitCurve('fit S(B) = S_min + E_min / B', batches, (b) => fit.sMin + fit.eMin / b));
  return logLogBatchChart({
    id: 'study-steps',
    title: `"Larger batches train faster" (in steps, up to B_crit): steps to ${target} at the best LR vs B`,
    note: fit
      ? `LR searched at every batch size (Shallue et al. 2018). Fit S(B) = S_min (1 + B_crit / B): S_min = ${num(fit.sMin)} steps, E_min = ${num(fit.eMin)} samples. ` +
        'On the grey line doubling B halves the steps; the curve leaves it around B_crit and flattens at S_min.'
      : 'LR searched at every batch size; fewer than 3 batch sizes reached the target, so there is no fit.',
    yLabel: 'steps to target (log)',
    series,
    markers: bCritMarker(fit),
  });
}

/** Examples (samples) to the target against B: E = B S, fitted E(B) = E_min + S_min B. */
function examplesChart(data: ReportData, batches: Batch[], target: string): ChartSpec {
  const fit = fitOf(data);
  const series = batches
    .filter((b) => b.points.length > 0)
    .map((b) => batchSeries(b, [b.batchSize], [meanSteps(b) * b.batchSize]));
  if (fit) series.push(fitCurve('fit E(B) = E_min + S_min B', batches, (b) => fit.eMin + fit.sMin * b));
  const markers: Marker[] = [...bCritMarker(fit)];
  if (fit) markers.push({ axis: 'y', value: fit.eMin, label: `E_min = ${num(fit.eMin)}`, color: GUIDE_COLOR });
  return logLogBatchChart({
    id: 'study-examples',
    title: `The price of large batches: samples to ${target} at the best LR vs B`,
    note: 'Below B_crit every batch size needs about the same samples (E_min); past it each doubling of B nearly doubles them.',
    yLabel: 'samples to target (log)',
    series,
    markers,
  });
}

/** Best LR against B (log-log), the grid centres of the scaling rule, and the fitted slope. */
function bestLrChart(data: ReportData, batches: Batch[]): ChartSpec {
  const withBest = batches.filter((b) => b.bestLr !== undefined);
  const series = withBest.map((b) => batchSeries(b, [b.batchSize], [b.bestLr as number]));
  const rule = String(at(data.experiment.settings, 'lrRule') ?? 'scaling');
  const centres = batches.filter((b) => b.centerLr !== undefined);
  if (centres.length > 0) {
    series.push({
      label: `grid centre (${rule} rule)`,
      color: GUIDE_COLOR,
      dash: [3, 3],
      xs: centres.map((b) => b.batchSize),
      ys: centres.map((b) => b.centerLr as number),
    });
  }
  const slope = numAt(data.experiment.summary, 'lrRelation.slope.estimate');
  const from = numAt(data.experiment.summary, 'lrRelation.slopeBatches.from');
  const to = numAt(data.experiment.summary, 'lrRelation.slopeBatches.to');
  const used = withBest.filter(
    (b) => from !== undefined && to !== undefined && b.batchSize >= from && b.batchSize <= to,
  );
  if (slope !== undefined && used.length >= 2) {
    // The least-squares line passes through the means of ln B and ln LR.
    const mx = used.reduce((s, b) => s + Math.log(b.batchSize), 0) / used.length;
    const my = used.reduce((s, b) => s + Math.log(b.bestLr as number), 0) / used.length;
    const xs = [used[0]!.batchSize, used[used.length - 1]!.batchSize];
    series.push({
      label: `fit: LR proportional to B^${num(slope, 2)}`,
      color: FIT_COLOR,
      dash: [6, 4],
      fit: true,
      xs,
      ys: xs.map((b) => Math.exp(my + slope * (Math.log(b) - mx))),
    });
  }
  const text = at(data.experiment.summary, 'lrRelation.text');
  return {
    ...logLogBatchChart({
      id: 'study-best-lr',
      title: '"Scale the LR with the batch": the best LR found at each batch size vs B',
      note:
        typeof text === 'string'
          ? text
          : 'The best LR of each batch size; slope 1 on these axes is the linear rule, 0.5 the square-root rule.',
      yLabel: 'best LR (log)',
      series,
      markers: [],
    }),
    section: 'Stability',
  };
}

/** Every trial of every batch size: steps against LR; hollow rings for trials stopped before the target (their steps are a lower bound). */
function lrSearchChart(batches: Batch[]): ChartSpec {
  const series: SeriesSpec[] = [];
  for (const b of batches) {
    // Search-seed trials only (one per LR), by LR: the replicates repeat the best LR.
    const search = b.trials.filter((t) => t.seed === b.trials[0]?.seed).sort((x, y) => x.lr - y.lr);
    const reached = search.filter((t) => t.outcome === 'reached');
    const stopped = search.filter((t) => t.outcome === 'cut' || t.outcome === 'not-reached');
    if (reached.length > 0) {
      series.push(
        batchSeries(
          b,
          reached.map((t) => t.lr),
          reached.map((t) => t.steps),
          { points: false },
        ),
      );
    }
    if (stopped.length > 0) {
      series.push(
        batchSeries(
          b,
          stopped.map((t) => t.lr),
          stopped.map((t) => t.steps),
          { label: `B=${b.batchSize} stopped before the target`, hollow: true },
        ),
      );
    }
  }
  const diverged = batches.reduce((n, b) => n + b.trials.filter((t) => t.outcome === 'diverged').length, 0);
  return {
    id: 'study-lr-search',
    section: 'Stability',
    title: 'The LR search at each batch size: steps to target vs LR',
    note:
      'Filled: the trial reached the target at that step. Rings: stopped first (cut once it had used as many steps as the best so far, or out of budget), so its steps are a lower bound.' +
      (diverged > 0 ? ` ${diverged} trial(s) diverged and are not drawn.` : ''),
    xLabel: 'learning rate (log)',
    yLabel: 'steps (log)',
    xLog: true,
    yLog: true,
    showPoints: true,
    series,
    markers: [],
  };
}

/** Every chart of a study, or [] when the experiment is not one (or has no batch size done yet). */
export function studySpecs(data: ReportData): ChartSpec[] {
  if (data.experiment.kind !== 'study') return [];
  const batches = studyBatches(data);
  if (batches.length === 0) return [];
  const metric = at(data.experiment.summary, 'target.metric');
  const value = numAt(data.experiment.summary, 'target.value');
  const target = `${metric === 'loss' ? 'loss' : 'accuracy'} ${num(value)}`;
  return [
    stepsChart(data, batches, target),
    examplesChart(data, batches, target),
    bestLrChart(data, batches),
    lrSearchChart(batches),
  ];
}

/** The run of each batch size's best LR (the search seed's), for the loss charts of a study. */
export function studyBestRuns(data: ReportData, runs: readonly ReportRun[]): ReportRun[] {
  const ids = new Set(studyBatches(data).map((b) => b.runId));
  return runs.filter((r) => ids.has(r.id));
}

/** A point series of B_simple against the training loss (x sorted, as uPlot needs). */
function lossSeries(label: string, color: string, pts: { loss: number; y: number }[], extra: Partial<SeriesSpec> = {}) {
  const sorted = [...pts].sort((a, b) => a.loss - b.loss);
  return { label, color, xs: sorted.map((p) => p.loss), ys: sorted.map((p) => p.y), ...extra } satisfies SeriesSpec;
}

/**
 * `recommend --target`: B_simple of each segment of the run to the target against its mean training loss
 * (log-log), its interval, and the reading at the training loss where the target was reached (summary
 * noiseAtTarget, lab/recommend/recommend.ts). The first place to look when the prediction misses.
 */
export function noiseAtTargetSpec(data: ReportData): ChartSpec | null {
  const n = at(data.experiment.summary, 'noiseAtTarget');
  const segments = at(n, 'segments');
  if (!Array.isArray(segments)) return null;
  const pts = segments.filter(isRecord).flatMap((s) => {
    const loss = numAt(s, 'loss');
    const y = numAt(s, 'bSimple');
    return loss !== undefined && y !== undefined && loss > 0 && y > 0
      ? [{ loss, y, low: numAt(s, 'ciLow'), high: numAt(s, 'ciHigh') }]
      : [];
  });
  const series: SeriesSpec[] = [lossSeries('B_simple of a segment', '#1f77b4', pts, { points: true })];
  const ci = (key: 'low' | 'high') =>
    pts.flatMap((p) => (p[key] !== undefined && (p[key] as number) > 0 ? [{ loss: p.loss, y: p[key] as number }] : []));
  series.push(lossSeries('95% CI, low end', GUIDE_COLOR, ci('low'), { dash: [3, 3] }));
  series.push(lossSeries('95% CI, high end', GUIDE_COLOR, ci('high'), { dash: [3, 3] }));
  const targetLoss = numAt(n, 'targetLoss');
  const predicted = numAt(n, 'prediction.bSimple');
  const basis = String(at(n, 'prediction.basis') ?? '');
  if (targetLoss !== undefined && predicted !== undefined) {
    series.push(
      lossSeries(`at the target (${basis})`, '#d62728', [{ loss: targetLoss, y: predicted }], {
        points: true,
        hollow: true,
      }),
    );
  }
  const text = at(n, 'prediction.text');
  return {
    id: 'noise-vs-loss',
    section: 'Stability',
    title: '"The noise scale grows as training goes on": B_simple against the training loss',
    note:
      typeof text === 'string'
        ? `${text}. The critical batch of a run to the target is about B_simple where it is reached (McCandlish et al. 2018).`
        : 'B_simple of each stretch of the run to the target against its mean training loss.',
    xLabel: 'training loss (log)',
    yLabel: 'B_simple (log)',
    xLog: true,
    yLog: true,
    series,
    markers:
      targetLoss === undefined
        ? []
        : [{ axis: 'x', value: targetLoss, label: `target reached: loss ${num(targetLoss, 3)}`, color: '#d62728' }],
  };
}
