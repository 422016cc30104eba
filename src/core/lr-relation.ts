/**
 * The best LR against the batch size, as a finding of a study (Shallue et al. 2018, arXiv 1811.03600,
 * who find that the best LR does not follow one simple rule across batch sizes and workloads).
 *
 * ln LR*(B) = a + slope ln B by least squares over the tuned points; the slope names the rule it follows:
 * 1 the linear rule (Goyal et al. 2017), 0.5 the square-root rule (Hoffer et al. 2017; Malladi et al. 2022
 * for Adam), 0 a flat LR. The slope's interval is the t interval of the least-squares slope, se = s / sqrt(S_xx)
 * with s the residual standard deviation (n - 2 degrees of freedom); the grid's rounding of LR* to its
 * log-spaced values is part of that residual noise. A rule is "consistent" when its slope lies inside the
 * interval: one consistent rule is the verdict; several is "cannot tell" (more batch sizes or seeds would
 * settle it); none means the slope lies between or beyond the rules.
 *
 * "Flat past B = x": the LR often stops growing once B passes the critical batch (McCandlish et al.
 * 2018, Sec. 2: eps_opt(B) = eps_max / (1 + B_noise / B) levels off at eps_max). Tested
 * with a hinge model, growing up to a knot B_k and flat after it (flatFrom below). When it holds, the verdict
 * rests on the slope up to B_k: "linear up to B = 256, flat past it". A tail counts as flat only within
 * `flatRatio`, default one step of the LR grid (DEFAULT_LR_GRID_RATIO, 2x), the resolution of the search.
 * Measured on simulated studies (lr-relation.test.ts): the right rule in ~90% (the interval's nominal
 * rate), a flat tail invented in under 1%, a real one at B = 256 found in 99% with 3 seeds.
 */
import { type Interval, studentTQuantile, tIntervalFromSe } from './distributions.js';
import { UsageError } from './errors.js';
import { fitLine } from './fit.js';
import { num } from './format.js';
import { DEFAULT_LR_GRID_RATIO } from './lr-search.js';
import { DEFAULT_CONFIDENCE } from './stats.js';

/** A tuned point: the best LR found at a batch size (one per B, or one per (B, seed)). */
export interface BestLrPoint {
  batchSize: number;
  lr: number;
}

/** The LR rules a slope is compared with, and their slopes on log-log axes. */
export const LR_RELATION_SLOPES = { linear: 1, sqrt: 0.5, flat: 0 } as const;
export type LrRelation = keyof typeof LR_RELATION_SLOPES;

/** Fewest swept batch sizes (from B_k on) that a "flat past B_k" needs. */
export const FLAT_MIN_BATCHES = 3;

/** The LR-vs-B finding. */
export interface LrRelationFit {
  /**
   * Slope of ln LR* against ln B with its t interval: over every point, or, when the LR levels off,
   * over the batches up to flatFrom (when there are >= 3), the relation before it levels off.
   */
  slope: Interval;
  /** The batch sizes the slope covers. */
  slopeBatches: { from: number; to: number };
  /** Points the slope rests on. */
  n: number;
  /** Rules whose slope lies inside the interval. */
  consistent: LrRelation[];
  /** The one consistent rule; 'cannot-tell' when several are; 'none' when the slope is outside them all. */
  verdict: LrRelation | 'cannot-tell' | 'none';
  /** The smallest swept batch from which the best LR stops growing, if it does. */
  flatFrom?: number;
  /** The finding in plain words, with the numbers. */
  text: string;
}

/** Options of fitLrRelation. */
export interface LrRelationOptions {
  /** Two-sided confidence of the slope interval; default DEFAULT_CONFIDENCE. */
  confidence?: number;
  /** Largest ratio of best LRs still read as "the same LR"; default DEFAULT_LR_GRID_RATIO. */
  flatRatio?: number;
}

/** Slope of ln LR against ln B with its t interval (n - 2 degrees of freedom); needs >= 3 distinct batch sizes. */
function logSlope(points: readonly BestLrPoint[], confidence: number): Interval {
  const x = points.map((p) => Math.log(p.batchSize));
  const line = fitLine(
    x,
    points.map((p) => Math.log(p.lr)),
  );
  const xbar = x.reduce((a, b) => a + b, 0) / x.length;
  const sxx = x.reduce((s, v) => s + (v - xbar) ** 2, 0);
  return tIntervalFromSe(line.slope, line.residualStd / Math.sqrt(sxx), points.length - 2, confidence);
}

/** Checks the points: positive finite batch sizes and LRs, >= 3 distinct batch sizes. */
function checkLrPoints(points: readonly BestLrPoint[]): void {
  for (const p of points) {
    if (!(Number.isFinite(p.batchSize) && p.batchSize > 0 && Number.isFinite(p.lr) && p.lr > 0)) {
      throw new UsageError(
        `LR-vs-batch fit needs positive batch sizes and LRs, got batch ${p.batchSize} with LR ${p.lr}`,
      );
    }
  }
  const distinct = new Set(points.map((p) => p.batchSize)).size;
  if (distinct < 3) {
    throw new UsageError(
      `LR-vs-batch fit needs at least 3 batch sizes with a best LR, got ${distinct}; add batch sizes`,
    );
  }
}

/**
 * Fits the best LR against B on log-log axes and names the rule it follows (see the file comment),
 * with "flat past B = x" when it levels off.
 */
export function fitLrRelation(points: readonly BestLrPoint[], options: LrRelationOptions = {}): LrRelationFit {
  checkLrPoints(points);
  const confidence = options.confidence ?? DEFAULT_CONFIDENCE;
  const flat = flatFrom(points, options.flatRatio ?? DEFAULT_LR_GRID_RATIO, confidence);
  const before = flat === undefined ? [] : points.filter((p) => p.batchSize <= flat.batch);
  const used = new Set(before.map((p) => p.batchSize)).size >= 3 ? before : points;
  const slope = logSlope(used, confidence);
  const consistent = (Object.keys(LR_RELATION_SLOPES) as LrRelation[]).filter(
    (r) => slope.low <= LR_RELATION_SLOPES[r] && LR_RELATION_SLOPES[r] <= slope.high,
  );
  const verdict =
    consistent.length === 1 ? (consistent[0] as LrRelation) : consistent.length > 1 ? 'cannot-tell' : 'none';
  const batches = used.map((p) => p.batchSize);
  const fit: LrRelationFit = {
    slope,
    slopeBatches: { from: Math.min(...batches), to: Math.max(...batches) },
    n: used.length,
    consistent,
    verdict,
    text: '',
  };
  if (flat !== undefined) fit.flatFrom = flat.batch;
  fit.text = describeLrRelation(fit, flat, used !== points);
  return fit;
}

/** Per-batch geometric mean of the best LRs, sorted by batch size. */
function perBatch(points: readonly BestLrPoint[]): BestLrPoint[] {
  const logs = new Map<number, number[]>();
  for (const p of points) logs.set(p.batchSize, [...(logs.get(p.batchSize) ?? []), Math.log(p.lr)]);
  return [...logs]
    .map(([batchSize, l]) => ({ batchSize, lr: Math.exp(l.reduce((a, b) => a + b, 0) / l.length) }))
    .sort((a, b) => a.batchSize - b.batchSize);
}

/**
 * The flat tail (see the file comment): the hinge model ln LR = a + s ln(min(B, B_k)) (growing up to
 * B_k, flat after) fitted at every candidate knot B_k with at least FLAT_MIN_BATCHES batches from B_k on;
 * the knot with the least squared error is kept when its slope s > 0, the tail is within `ratio` (one
 * grid step), and the hinge beats the straight line by a t test on the extra parameter,
 * sqrt((SSE_line - SSE_hinge) / (SSE_hinge / (n - 3))) > t_{1 - alpha/(2K), n - 3}, alpha = 1 - confidence,
 * Bonferroni-corrected over the K candidate knots (the knot is chosen by the data).
 */
function flatFrom(
  points: readonly BestLrPoint[],
  ratio: number,
  confidence: number,
): { batch: number; lowLr: number; highLr: number } | undefined {
  if (!(ratio > 1)) throw new UsageError(`flat ratio must be > 1, got ${ratio}; use e.g. 2 (one LR grid step)`);
  const batches = [...new Set(points.map((p) => p.batchSize))].sort((a, b) => a - b);
  const knots = batches.slice(1, batches.length - FLAT_MIN_BATCHES + 1);
  const n = points.length;
  if (knots.length === 0 || n < 4) return undefined;
  const y = points.map((p) => Math.log(p.lr));
  const sse = (xs: number[]): { sse: number; slope: number } => {
    const line = fitLine(xs, y);
    return {
      sse: xs.reduce((s, x, i) => s + ((y[i] as number) - line.intercept - line.slope * x) ** 2, 0),
      slope: line.slope,
    };
  };
  const straight = sse(points.map((p) => Math.log(p.batchSize)));
  let best: { knot: number; sse: number; slope: number } | undefined;
  for (const knot of knots) {
    const h = sse(points.map((p) => Math.log(Math.min(p.batchSize, knot))));
    if (best === undefined || h.sse < best.sse) best = { knot, ...h };
  }
  if (best === undefined || !(best.slope > 0)) return undefined;
  const tail = perBatch(points.filter((p) => p.batchSize >= (best as { knot: number }).knot)).map((p) => p.lr);
  const lowLr = Math.min(...tail);
  const highLr = Math.max(...tail);
  if (highLr / lowLr > ratio) return undefined;
  const gain = straight.sse - best.sse;
  const tStat =
    best.sse === 0 ? (gain > 0 ? Number.POSITIVE_INFINITY : 0) : Math.sqrt(Math.max(0, gain) / (best.sse / (n - 3)));
  const critical =
    n > 3 ? studentTQuantile(1 - (1 - confidence) / (2 * knots.length), n - 3) : Number.POSITIVE_INFINITY;
  return tStat > critical ? { batch: best.knot, lowLr, highLr } : undefined;
}

/** Names of the rules in words. */
const RULE_WORDS: Record<LrRelation, string> = {
  linear: 'the linear rule (slope 1)',
  sqrt: 'the square-root rule (slope 0.5)',
  flat: 'a flat LR (slope 0)',
};

/** The finding as one line. */
function describeLrRelation(
  fit: LrRelationFit,
  flat: { batch: number; lowLr: number; highLr: number } | undefined,
  upToFlat: boolean,
): string {
  const s = fit.slope;
  const range = upToFlat ? ` up to B = ${fit.slopeBatches.to}` : '';
  const head = `best LR vs B${range}: slope ${num(s.estimate, 2)} (${num(s.low, 2)}..${num(s.high, 2)}, ${Math.round(s.confidence * 100)}%) on log-log axes`;
  let body: string;
  if (fit.verdict === 'cannot-tell') {
    body = `cannot tell ${fit.consistent.map((r) => RULE_WORDS[r]).join(' from ')}; more batch sizes or seeds would narrow it`;
  } else if (fit.verdict === 'none') {
    body =
      s.estimate > 0 && s.estimate < 1
        ? 'between the rules: none of slope 0, 0.5 or 1 lies inside the interval'
        : 'steeper or flatter than every rule (slopes 0, 0.5, 1 all outside the interval)';
  } else {
    body = `follows ${RULE_WORDS[fit.verdict]}`;
  }
  if (flat === undefined) return `${head}: ${body}`;
  return `${head}: ${body}; flat past B = ${flat.batch} (best LR ${num(flat.lowLr)}..${num(flat.highLr)} from there on)`;
}
