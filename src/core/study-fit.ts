/**
 * The study's fit: the tuned steps-to-target curve S(B) = S_min (1 + B_noise / B) (McCandlish et al.
 * 2018, arXiv 1812.06162, eq. 2.11; Shallue et al. 2018, arXiv 1811.03600) with bootstrap
 * intervals, the regions of the curve, and the best LR against B as a finding.
 *
 * Input: for each batch size B, the steps to the target at the best LR of its search (lr-search.ts),
 * one point per B or one per (B, seed). The fit is tradeoff.fitTradeoff, S = S_min + E_min / B by
 * least squares in u = 1/B with weights 1 / S^2 (relative errors: run-to-run noise in S is roughly
 * multiplicative, so a 10% miss at B = 16 counts as much as one at B = 1024). B_noise = B_crit = E_min / S_min.
 *
 * Interval (default 'residual'): a residual bootstrap on the log scale (Davison & Hinkley 1997, ch. 6, model-based resampling).
 * The noise model is multiplicative, S_i = S(B_i) exp(e_i) with e_i i.i.d., so the log residuals
 * e_i = ln(S_i / Shat_i) are exchangeable across batch sizes; each resample puts resampled residuals back
 * on the fitted curve, S*_i = Shat_i exp(e*_i), and refits. It keeps every batch size in every resample
 * (a pairs bootstrap would sometimes drop the few large batches that alone fix S_min) and works with one
 * point per B, the usual case. The residuals are divided by sqrt(1 - h_i) (h_i the leverage of point i in
 * the weighted fit) and centred, since fitted residuals are smaller than the errors they stand for.
 * 'within-batch' resamples the seeds inside each batch size instead: it assumes nothing about the
 * noise's shape across B, but needs >= 2 points at every B and with few seeds per B is too narrow
 * (a resample of n values has (n - 1)/n of their variance); the tests measure both.
 *
 * B_crit's interval: the percentile interval of q = S_min / E_min = 1 / B_crit (percentile intervals
 * carry over monotone maps), so resamples with S_min <= 0 (no plateau in reach: steps still halving at
 * the largest batch) give q <= 0, i.e. B_crit = Infinity, and push the upper end to Infinity instead of
 * being dropped, which would make the interval look tighter than the data allow.
 */
import { type Interval, normalCdf, studentTQuantile } from './distributions.js';
import { UsageError } from './errors.js';
import { num } from './format.js';
import type { Rng } from './random.js';
import { DEFAULT_BOOTSTRAP_ITERATIONS, DEFAULT_CONFIDENCE, quantile } from './stats.js';
import type { BestLrPoint } from './lr-relation.js';
import type { LrSearchResult } from './lr-search.js';
import { fitTradeoff, predictSteps, type TradeoffFit } from './tradeoff.js';

/** One tuned point of a study: the best steps-to-target found at this batch size (and seed). */
export interface StudyPoint {
  batchSize: number;
  /** Steps to the target at the best LR (finite; leave out batch sizes where no LR reached it). */
  steps: number;
}

/** How the bootstrap resamples; see the file comment. */
export type StudyBootstrap = 'residual' | 'within-batch';

/** What a finished study feeds its fits, from the LR search at every batch size. */
export interface StudyInputs {
  /** Steps-to-target points for fitStudy. */
  points: StudyPoint[];
  /** Best LR per batch size for lr-relation.fitLrRelation. */
  bestLrs: BestLrPoint[];
  /** Batch sizes where no LR (or no replicate at the best LR) reached the target: left out of the fit; say so. */
  unreached: number[];
  /** Batch sizes whose best LR sat at an edge of the widened grid (their steps may be too high). */
  atEdge: number[];
  /** Samples the whole study processed: sum over batch sizes of the steps its trials ran x B. */
  computeSamples: number;
}

/**
 * Collects a study's fit inputs from its finished searches (lr-search.planLrSearch's 'done' results).
 * The points at a batch size are the replicate seeds' steps at the best LR when there are replicates
 * (those that reached the target), else the search seed's own: that one is the minimum over the
 * searched LRs and so biased low by the noise, which replicates avoid.
 */
export function studyInputs(searches: readonly { batchSize: number; result: LrSearchResult }[]): StudyInputs {
  const out: StudyInputs = { points: [], bestLrs: [], unreached: [], atEdge: [], computeSamples: 0 };
  for (const { batchSize, result } of searches) {
    out.computeSamples += result.stepsSpent * batchSize;
    if (result.bestLr === undefined) {
      out.unreached.push(batchSize);
      continue;
    }
    out.bestLrs.push({ batchSize, lr: result.bestLr });
    if (result.outcome === 'edge-limit') out.atEdge.push(batchSize);
    const replicates = result.atBest.slice(1).filter((t) => t.outcome === 'reached');
    const runs = result.atBest.length > 1 ? replicates : result.atBest;
    if (runs.length === 0) out.unreached.push(batchSize); // no replicate reached the target at the best LR
    for (const t of runs) out.points.push({ batchSize, steps: t.steps });
  }
  return out;
}

/** Why B_crit is or is not a finite number. */
export type StudyFitStatus =
  /** S_min > 0 and E_min > 0: B_crit = E_min / S_min. */
  | 'ok'
  /** S_min <= 0: steps keep halving up to the largest batch; B_crit is above the swept range (Infinity). */
  | 'no-plateau'
  /** E_min <= 0: steps do not fall as B grows; every batch is past B_crit (reported as 0). */
  | 'no-scaling';

/** Default relative excess that bounds the regions: E <= 1.1 E_min (perfect scaling), S <= 1.1 S_min (maximal data parallelism). */
export const DEFAULT_REGION_TOLERANCE = 0.1;

/** Options of fitStudy. */
export interface StudyFitOptions {
  rng: Rng;
  /** Bootstrap resamples; default DEFAULT_BOOTSTRAP_ITERATIONS. */
  iterations?: number;
  /** Two-sided confidence of the intervals; default DEFAULT_CONFIDENCE. */
  confidence?: number;
  /** Default 'residual'. */
  method?: StudyBootstrap;
  /** Relative excess bounding the regions; default DEFAULT_REGION_TOLERANCE. */
  regionTolerance?: number;
}

/** The fitted study curve with intervals. */
export interface StudyFit {
  /** Fewest steps S_min (B -> infinity). */
  sMin: Interval;
  /** Fewest examples E_min (B -> 0). */
  eMin: Interval;
  /** B_crit = B_noise = E_min / S_min; estimate Infinity for 'no-plateau', 0 for 'no-scaling'; high may be Infinity. */
  bCrit: Interval;
  status: StudyFitStatus;
  /** R^2 of the weighted fit, points used, distinct batch sizes. */
  r2: number;
  n: number;
  batchSizes: number[];
  /** Standard deviation of the log residuals ln(S_i / Shat_i): the typical relative miss of the curve. */
  logResidualStd: number;
  method: StudyBootstrap;
  /** Resamples used, and resamples not formed (all of them when a fitted step count is <= 0: the intervals are then NaN). */
  iterations: number;
  dropped: number;
  regions: CurveRegion[];
}

/** Checks the points: positive finite batch sizes and steps, at least 2 distinct batch sizes. */
function checkPoints(points: readonly StudyPoint[]): void {
  for (const p of points) {
    if (!(Number.isFinite(p.batchSize) && p.batchSize > 0 && Number.isFinite(p.steps) && p.steps > 0)) {
      throw new UsageError(
        `study fit needs positive finite batch sizes and step counts, got batch ${p.batchSize} with ${p.steps} steps; leave out batch sizes where no LR reached the target`,
      );
    }
  }
  const distinct = new Set(points.map((p) => p.batchSize)).size;
  if (distinct < 3) {
    throw new UsageError(
      `study fit needs at least 3 batch sizes that reached the target (2 parameters and a residual), got ${distinct}; add batch sizes`,
    );
  }
}

/** Status and B_crit of a trade-off fit: E_min / S_min, Infinity without a plateau, 0 without scaling. */
function statusOf(fit: Pick<TradeoffFit, 'sMin' | 'eMin'>): { status: StudyFitStatus; bCrit: number } {
  if (!(fit.eMin > 0)) return { status: 'no-scaling', bCrit: 0 };
  if (!(fit.sMin > 0)) return { status: 'no-plateau', bCrit: Number.POSITIVE_INFINITY };
  return { status: 'ok', bCrit: fit.eMin / fit.sMin };
}

/**
 * q = 1 / B_crit as a finite, monotone-decreasing stand-in for B_crit: S_min / E_min when E_min > 0
 * (<= 0 means B_crit = Infinity), and Number.MAX_VALUE (B_crit = 0) when E_min <= 0.
 */
function inverseBCrit(fit: Pick<TradeoffFit, 'sMin' | 'eMin'>): number {
  return fit.eMin > 0 ? fit.sMin / fit.eMin : Number.MAX_VALUE;
}

/**
 * Percentile interval (type-7 quantiles) of bootstrap values around `estimate`, read at the quantile
 * `level` (from expandedLevel) and labelled with the nominal `confidence`.
 */
function percentile(estimate: number, values: readonly number[], level: number, confidence: number): Interval {
  if (values.length === 0) return { estimate, low: Number.NaN, high: Number.NaN, confidence };
  return { estimate, low: quantile(values, (1 - level) / 2), high: quantile(values, (1 + level) / 2), confidence };
}

/**
 * The "expanded percentile interval" (Hesterberg 2015, "What teachers should know about the bootstrap",
 * Am. Stat. 69(4), sec. 3.4): a percentile interval from few values is too narrow, since the bootstrap
 * draws from the sample's own spread as if it were known (a z interval where a t interval belongs). It
 * reads the quantiles at (1 + c')/2 = Phi(sqrt(varianceFactor) t_{(1+c)/2, df}) instead of (1 + c)/2.
 * Measured (study-fit.test.ts, 8 batch sizes, one run each, 10% noise): 90% intervals covered 84-88% of the
 * simulations with the plain level, 89-90% expanded.
 */
function expandedLevel(confidence: number, df: number, varianceFactor: number): number {
  const z = Math.sqrt(varianceFactor) * studentTQuantile((1 + confidence) / 2, df);
  return Math.min(1 - 1e-9, 2 * normalCdf(z) - 1);
}

/**
 * Fits S(B) = S_min + E_min / B to a study's tuned points, with bootstrap intervals for S_min, E_min
 * and B_crit, and the regions of the curve (curveRegions). Needs >= 3 distinct batch sizes.
 */
export function fitStudy(points: readonly StudyPoint[], options: StudyFitOptions): StudyFit {
  checkPoints(points);
  const method = options.method ?? 'residual';
  const confidence = options.confidence ?? DEFAULT_CONFIDENCE;
  const iterations = options.iterations ?? DEFAULT_BOOTSTRAP_ITERATIONS;
  const fit = fitTradeoff(points, { weighting: 'log' });
  const draw = method === 'residual' ? residualResampler(points, fit) : withinBatchResampler(points);
  const refits: TradeoffFit[] = [];
  for (let it = 0; it < iterations; it++) {
    const sample = draw(options.rng);
    if (sample !== undefined) refits.push(fitTradeoff(sample, { weighting: 'log' }));
  }
  const intervals = studyIntervals(fit, refits, bootstrapLevel(points, method, confidence), confidence);
  const batchSizes = [...new Set(points.map((p) => p.batchSize))].sort((a, b) => a - b);
  const logResiduals = points.map((p) => Math.log(p.steps / predictSteps(fit, p.batchSize)));
  return {
    ...intervals,
    status: statusOf(fit).status,
    r2: fit.r2,
    n: fit.n,
    batchSizes,
    logResidualStd: Math.sqrt(logResiduals.reduce((s, e) => s + e * e, 0) / Math.max(1, points.length - 2)),
    method,
    iterations: refits.length,
    dropped: iterations - refits.length,
    regions: curveRegions(intervals.bCrit, batchSizes, { tolerance: options.regionTolerance }),
  };
}

/**
 * The quantile level of the bootstrap intervals (expandedLevel). Residual: the adjusted residuals already
 * have the errors' variance, df = n - 2 parameters. Within-batch: a resample of n_g values has
 * (n_g - 1)/n_g of their variance, df = n - (number of batch sizes).
 */
function bootstrapLevel(points: readonly StudyPoint[], method: StudyBootstrap, confidence: number): number {
  const n = points.length;
  if (method === 'residual') return expandedLevel(confidence, n - 2, 1);
  const groups = new Set(points.map((p) => p.batchSize)).size;
  return expandedLevel(confidence, n - groups, n / (n - groups));
}

/** Percentile intervals of S_min, E_min and (through q = 1 / B_crit) B_crit from the refits. */
function studyIntervals(
  fit: TradeoffFit,
  refits: readonly TradeoffFit[],
  level: number,
  confidence: number,
): Pick<StudyFit, 'sMin' | 'eMin' | 'bCrit'> {
  const q = percentile(inverseBCrit(fit), refits.map(inverseBCrit), level, confidence);
  return {
    sMin: percentile(
      fit.sMin,
      refits.map((f) => f.sMin),
      level,
      confidence,
    ),
    eMin: percentile(
      fit.eMin,
      refits.map((f) => f.eMin),
      level,
      confidence,
    ),
    bCrit: {
      estimate: statusOf(fit).bCrit,
      low: q.high > 0 ? 1 / q.high : Number.POSITIVE_INFINITY,
      high: q.low > 0 ? 1 / q.low : Number.POSITIVE_INFINITY,
      confidence,
    },
  };
}

/** A resampler: one bootstrap sample of points, or undefined when it cannot be formed. */
type Resampler = (rng: Rng) => StudyPoint[] | undefined;

/**
 * Residual bootstrap on the log scale: S*_i = Shat_i exp(r*_i), r* drawn with replacement from the
 * leverage-adjusted, centred log residuals r_i = ln(S_i / Shat_i) / sqrt(1 - h_i). The leverages are those
 * of the weighted line fit in u = 1/B with weights w_i = 1 / S_i^2: h_i = w_i (1 / sum w + (u_i - ubar)^2 / S_uu).
 * Undefined samples (never) if a fitted value is <= 0: then the curve does not describe the points and
 * the whole bootstrap is skipped.
 */
function residualResampler(points: readonly StudyPoint[], fit: TradeoffFit): Resampler {
  const fitted = points.map((p) => predictSteps(fit, p.batchSize));
  if (fitted.some((s) => !(s > 0))) return () => undefined;
  const u = points.map((p) => 1 / p.batchSize);
  const w = points.map((p) => 1 / (p.steps * p.steps));
  const sw = w.reduce((a, b) => a + b, 0);
  const ubar = u.reduce((s, x, i) => s + (w[i] as number) * x, 0) / sw;
  const suu = u.reduce((s, x, i) => s + (w[i] as number) * (x - ubar) ** 2, 0);
  const adjusted = points.map((p, i) => {
    const h = (w[i] as number) * (1 / sw + ((u[i] as number) - ubar) ** 2 / suu);
    return Math.log(p.steps / (fitted[i] as number)) / Math.sqrt(Math.max(1 - h, 1e-9));
  });
  const centre = adjusted.reduce((a, b) => a + b, 0) / adjusted.length;
  const residuals = adjusted.map((r) => r - centre);
  return (rng) =>
    points.map((p, i) => ({
      batchSize: p.batchSize,
      steps: (fitted[i] as number) * Math.exp(residuals[rng.randInt(residuals.length)] as number),
    }));
}

/** Resamples the points inside each batch size (a stratified bootstrap); needs >= 2 points per batch size. */
function withinBatchResampler(points: readonly StudyPoint[]): Resampler {
  const groups = new Map<number, StudyPoint[]>();
  for (const p of points) groups.set(p.batchSize, [...(groups.get(p.batchSize) ?? []), p]);
  const single = [...groups].filter(([, g]) => g.length < 2).map(([b]) => b);
  if (single.length > 0) {
    throw new UsageError(
      `'within-batch' bootstrap needs at least 2 seeds at every batch size, got 1 at B = ${single.join(', ')}; use the 'residual' bootstrap or more seeds`,
    );
  }
  return (rng) => [...groups.values()].flatMap((g) => g.map(() => g[rng.randInt(g.length)] as StudyPoint));
}

/** The three regions of the steps-to-target curve (Shallue et al. 2018). */
export type RegionName = 'perfect-scaling' | 'diminishing-returns' | 'maximal-data-parallelism';

/** One region with its batch range (point estimate and the range its ends can take across the B_crit interval). */
export interface CurveRegion {
  name: RegionName;
  /** Region is [fromBatch, toBatch) at the B_crit estimate; 0 and Infinity for open ends. */
  fromBatch: number;
  toBatch: number;
  /** Swept batch sizes that fall in the region at the estimate. */
  measured: number[];
  /** Plain words, e.g. "perfect scaling up to B = 20 (12..31): doubling B halves the steps (within 10%); measured at 8, 16". */
  text: string;
}

/**
 * The regions of S(B) = S_min (1 + B_crit / B), bounded by a relative excess `tolerance` (default 10%):
 * - perfect scaling: E(B) <= (1 + tol) E_min  <=>  B <= tol B_crit (doubling B halves the steps, within tol);
 * - maximal data parallelism: S(B) <= (1 + tol) S_min  <=>  B >= B_crit / tol (more B barely cuts steps);
 * - diminishing returns in between, around B_crit where S = 2 S_min and E = 2 E_min.
 * The same 10% is the 'compute' objective's allowance in recommend.ts. Each boundary carries the B_crit
 * interval scaled the same way.
 */
export function curveRegions(
  bCrit: Interval,
  batchSizes: readonly number[],
  options: { tolerance?: number } = {},
): CurveRegion[] {
  const tol = options.tolerance ?? DEFAULT_REGION_TOLERANCE;
  if (!(tol > 0 && tol < 1)) throw new UsageError(`region tolerance must be in (0, 1), got ${tol}; use e.g. 0.1`);
  const lowEdge = { at: tol * bCrit.estimate, low: tol * bCrit.low, high: tol * bCrit.high };
  const highEdge = { at: bCrit.estimate / tol, low: bCrit.low / tol, high: bCrit.high / tol };
  const pct = `${+(tol * 100).toPrecision(3)}%`;
  const range = (e: { low: number; high: number }): string => `${num(e.low)}..${num(e.high)}`;
  const inside = (from: number, to: number): number[] => batchSizes.filter((b) => b >= from && b < to);
  const where = (bs: number[]): string => (bs.length > 0 ? `measured at ${bs.join(', ')}` : 'not in the swept range');
  const perfect = inside(0, lowEdge.at);
  const middle = inside(lowEdge.at, highEdge.at);
  const maximal = inside(highEdge.at, Number.POSITIVE_INFINITY);
  return [
    {
      name: 'perfect-scaling',
      fromBatch: 0,
      toBatch: lowEdge.at,
      measured: perfect,
      text: `perfect scaling up to B = ${num(lowEdge.at)} (${range(lowEdge)}): doubling B halves the steps (within ${pct}); ${where(perfect)}`,
    },
    {
      name: 'diminishing-returns',
      fromBatch: lowEdge.at,
      toBatch: highEdge.at,
      measured: middle,
      text: `diminishing returns from B = ${num(lowEdge.at)} to ${num(highEdge.at)}, around B_crit = ${num(bCrit.estimate)} (${range(bCrit)}) where steps are twice the fewest; ${where(middle)}`,
    },
    {
      name: 'maximal-data-parallelism',
      fromBatch: highEdge.at,
      toBatch: Number.POSITIVE_INFINITY,
      measured: maximal,
      text: `maximal data parallelism from B = ${num(highEdge.at)} (${range(highEdge)}): steps within ${pct} of the fewest; ${where(maximal)}`,
    },
  ];
}
