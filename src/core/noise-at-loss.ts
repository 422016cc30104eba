/**
 * The gradient noise scale where the target is reached. B_simple grows as the loss falls (McCandlish et
 * al. 2018, arXiv 1812.06162; batchlab's `noise --at-step`), so a B_simple measured
 * early in training underestimates the critical batch of a run to a target reached much later. Here
 * B_simple is measured in segments along training, each tied to its mean training loss, and read at the
 * training loss where the target is reached:
 * - 'measured': the target loss lies between two measured losses: interpolate between them on log-log
 *   axes, the interval's ends likewise (no narrower than the measurements it rests on);
 * - 'extrapolated': outside the measured losses: fit ln B_simple = a + k ln(loss) and read it at the target.
 *   A power law in the loss is the form Kaplan et al. 2020 (arXiv 2001.08361, eq. 1.4) measured,
 *   B_crit(L) ~ B_* / L^(1/alpha_B), and the one a quadratic model gives near a minimum with zero loss:
 *   |G|^2 shrinks in proportion to the loss while tr(Sigma) stays, so B_simple ~ 1/L (k = -1). A line in
 *   the loss itself would go negative when extrapolated to a lower loss; the log-log line cannot.
 * The fit weights each segment by 1 / sigma_i^2, sigma_i its interval's half-width on the log scale over
 * z_{(1+c)/2}; when the segments scatter about the line more than their intervals say (reduced
 * chi^2 > 1) the variance is scaled up by it. The interval at the target is that of the fitted line there
 * (normal with the stated errors, t with n - 2 df when scaled up): it grows with the distance from the
 * measured losses. Measured (noise-at-loss.test.ts): 90% intervals covered the truth in 93-94% of simulations.
 */
import { type Interval, normalQuantile, tIntervalFromSe } from './distributions.js';
import { UsageError } from './errors.js';
import { fitLine } from './fit.js';
import { num } from './format.js';
import { type NoiseStepRecord, noiseScaleWithCI, type NoiseStatus } from './noise.js';
import type { Rng } from './random.js';
import { DEFAULT_CONFIDENCE, splitWindows } from './stats.js';

/** B_simple measured over a stretch of training, with the mean training loss there. */
export interface NoiseAtLoss {
  /** Mean training loss over the segment's steps. */
  loss: number;
  /** B_simple of the segment and its interval (noise.noiseScaleWithCI); undefined when not measurable. */
  bSimple: number | undefined;
  low: number | undefined;
  high: number | undefined;
  confidence: number;
  status: NoiseStatus;
  /** First and last step of the segment. */
  fromStep: number;
  toStep: number;
}

/** Default number of segments training is cut into for noiseAlongTraining. */
export const DEFAULT_NOISE_SEGMENTS = 8;

/** Options of noiseAlongTraining. */
export interface NoiseAlongTrainingOptions {
  rng: Rng;
  /** Contiguous segments of steps, each giving one point; default DEFAULT_NOISE_SEGMENTS. */
  segments?: number;
  /** Bootstrap windows inside a segment (noiseScaleWithCI's `windows`). */
  windows?: number;
  confidence?: number;
  iterations?: number;
}

/**
 * B_simple along training: the step records (with accumulation, so each gives two batch sizes) cut into
 * `segments` contiguous stretches of steps, each with B_simple and its interval (noiseScaleWithCI) and
 * its mean training loss.
 */
export function noiseAlongTraining(
  records: readonly (NoiseStepRecord & { loss: number })[],
  options: NoiseAlongTrainingOptions,
): NoiseAtLoss[] {
  const segments = Math.min(options.segments ?? DEFAULT_NOISE_SEGMENTS, records.length);
  if (segments < 1)
    throw new UsageError('noise along training needs step records, got none; train with --accum 2 or more');
  return splitWindows(records, segments).map((seg) => {
    const est = noiseScaleWithCI(seg, {
      rng: options.rng,
      ...(options.windows === undefined ? {} : { windows: options.windows }),
      ...(options.confidence === undefined ? {} : { confidence: options.confidence }),
      ...(options.iterations === undefined ? {} : { iterations: options.iterations }),
    });
    return {
      loss: seg.reduce((s, r) => s + r.loss, 0) / seg.length,
      bSimple: est.bSimple,
      low: est.low,
      high: est.high,
      confidence: est.confidence,
      status: est.status,
      fromStep: (seg[0] as NoiseStepRecord).step,
      toStep: (seg[seg.length - 1] as NoiseStepRecord).step,
    };
  });
}

/** The noise scale predicted at a target loss. */
export interface NoiseAtTarget extends Interval {
  targetLoss: number;
  basis: 'measured' | 'extrapolated';
  /** Measured losses used, lowest and highest. */
  lossRange: { low: number; high: number };
  /** Segments used. */
  n: number;
  /** For 'extrapolated': the exponent k of B_simple ~ loss^k, with its interval. */
  exponent?: Interval;
  /** Plain words, e.g. "B_simple 1,950 (1,200..3,100) at loss 0.08, extrapolated from loss 0.21..1.9". */
  text: string;
}

/** A usable segment on log axes: x = ln loss, y = ln B_simple, sigma = log-scale standard error. */
interface LogPoint {
  x: number;
  y: number;
  sigma: number;
  low: number;
  high: number;
  confidence: number;
  loss: number;
}

/**
 * Smallest log-scale standard error a segment is given (0.1%): a zero-width interval (a noiseless
 * measurement, e.g. on synthetic data) would otherwise get an infinite weight.
 */
const MIN_LOG_SIGMA = 1e-3;

/** Usable segments: status 'ok', a positive loss, and an interval with a finite side (or of zero width). */
function usable(points: readonly NoiseAtLoss[]): LogPoint[] {
  const out: LogPoint[] = [];
  for (const p of points) {
    if (p.status !== 'ok' || p.bSimple === undefined || !(p.bSimple > 0) || !(p.loss > 0)) continue;
    const z = normalQuantile((1 + p.confidence) / 2);
    const y = Math.log(p.bSimple);
    const sides: number[] = [];
    if (p.high !== undefined && Number.isFinite(p.high) && p.high > p.bSimple) sides.push(Math.log(p.high) - y);
    if (p.low !== undefined && p.low > 0 && p.low < p.bSimple) sides.push(y - Math.log(p.low));
    if (sides.length === 0 && !(p.low === p.bSimple && p.high === p.bSimple)) continue;
    const halfWidth = sides.length === 0 ? 0 : sides.reduce((a, b) => a + b, 0) / sides.length;
    const sigma = Math.max(MIN_LOG_SIGMA, halfWidth / z);
    out.push({
      x: Math.log(p.loss),
      y,
      sigma,
      low: p.low as number,
      high: p.high as number,
      confidence: p.confidence,
      loss: p.loss,
    });
  }
  return out.sort((a, b) => a.x - b.x);
}

/**
 * B_simple at `targetLoss` (the training loss where the target is reached, e.g. the study runs' mean
 * training loss at their steps-to-target), from segments measured along training (noiseAlongTraining).
 * Needs 2 usable segments; see the file comment for 'measured' and 'extrapolated'.
 */
export function noiseAtLoss(
  points: readonly NoiseAtLoss[],
  targetLoss: number,
  options: { confidence?: number } = {},
): NoiseAtTarget {
  if (!(Number.isFinite(targetLoss) && targetLoss > 0)) {
    throw new UsageError(`target loss must be a positive number, got ${targetLoss}`);
  }
  const pts = usable(points);
  if (pts.length < 2) {
    throw new UsageError(
      `predicting B_simple at a loss needs at least 2 segments with a measured noise scale, got ${pts.length}; train longer or with more accumulation steps`,
    );
  }
  const x = Math.log(targetLoss);
  const lossRange = { low: (pts[0] as LogPoint).loss, high: (pts[pts.length - 1] as LogPoint).loss };
  const above = pts.findIndex((p) => p.x >= x);
  const inside = above > 0 || (above === 0 && (pts[0] as LogPoint).x === x);
  const read = inside
    ? interpolated(pts, Math.max(above, 1), x)
    : extrapolated(pts, x, options.confidence ?? DEFAULT_CONFIDENCE);
  const { estimate, low, high } = read.interval;
  const where = inside
    ? `measured near the target (${read.how})`
    : `extrapolated from loss ${num(lossRange.low)}..${num(lossRange.high)} ${read.how}`;
  const result: NoiseAtTarget = {
    ...read.interval,
    targetLoss,
    basis: inside ? 'measured' : 'extrapolated',
    lossRange,
    n: pts.length,
    text: `B_simple ${num(estimate)} (${num(low)}..${num(high)}) at loss ${num(targetLoss)}, ${where}`,
  };
  if (read.exponent !== undefined) result.exponent = read.exponent;
  return result;
}

/** A reading of B_simple at the target: its interval, how it was read (words), and the power law's exponent. */
interface Reading {
  interval: Interval;
  how: string;
  exponent?: Interval;
}

/** Interpolation on log-log axes between the segments at i - 1 and i that bracket ln(target) = x. */
function interpolated(pts: readonly LogPoint[], i: number, x: number): Reading {
  const a = pts[i - 1] as LogPoint;
  const b = pts[i] as LogPoint;
  const t = b.x === a.x ? 0.5 : (x - a.x) / (b.x - a.x);
  const lerp = (u: number, v: number): number => Math.exp(Math.log(u) + t * (Math.log(v) - Math.log(u)));
  return {
    interval: {
      estimate: Math.exp(a.y + t * (b.y - a.y)),
      low: a.low > 0 && b.low > 0 ? lerp(a.low, b.low) : 0,
      high: Number.isFinite(a.high) && Number.isFinite(b.high) ? lerp(a.high, b.high) : Number.POSITIVE_INFINITY,
      confidence: Math.min(a.confidence, b.confidence),
    },
    how: `segments at loss ${num(a.loss)} and ${num(b.loss)}`,
  };
}

/** Extrapolation along the weighted log-log line (file comment). */
function extrapolated(pts: readonly LogPoint[], x: number, confidence: number): Reading {
  const w = pts.map((p) => 1 / (p.sigma * p.sigma));
  const line = fitLine(
    pts.map((p) => p.x),
    pts.map((p) => p.y),
    { weights: w },
  );
  const sw = w.reduce((s, v) => s + v, 0);
  const xbar = pts.reduce((s, p, i) => s + (w[i] as number) * p.x, 0) / sw;
  const sxx = pts.reduce((s, p, i) => s + (w[i] as number) * (p.x - xbar) ** 2, 0);
  const n = pts.length;
  const chi2 = pts.reduce((s, p, i) => s + (w[i] as number) * (p.y - line.intercept - line.slope * p.x) ** 2, 0);
  // Scatter within the stated errors: those errors are the variance (a normal interval). More scatter
  // than they explain: the variance is estimated from the residuals instead (a t interval, n - 2 df).
  const inflated = n > 2 && chi2 / (n - 2) > 1;
  const scale = inflated ? chi2 / (n - 2) : 1;
  const df = inflated ? n - 2 : Number.POSITIVE_INFINITY;
  const y = line.intercept + line.slope * x;
  const logCi = tIntervalFromSe(y, Math.sqrt(scale * (1 / sw + (x - xbar) ** 2 / sxx)), df, confidence);
  return {
    interval: { estimate: Math.exp(y), low: Math.exp(logCi.low), high: Math.exp(logCi.high), confidence },
    how: `along B_simple ~ loss^${num(line.slope, 2)}`,
    exponent: tIntervalFromSe(line.slope, Math.sqrt(scale / sxx), df, confidence),
  };
}

/** Half-width of the window trainLossAtStep averages over, as a share of the step, and its least size in steps. */
export const TARGET_LOSS_WINDOW_SHARE = 0.05;
export const TARGET_LOSS_WINDOW_MIN_STEPS = 5;
/** Fewest steps to the target for which the loss there is read: the window must stay clear of the start of training. */
export const TARGET_LOSS_MIN_STEP = 8 * TARGET_LOSS_WINDOW_MIN_STEPS;

/**
 * The training loss where a target is reached at `step` (an `acc:` target translated into a training
 * loss): the mean per-step loss over the steps within max(5, 5% of step) of it, of those there are (a
 * run that stopped at the target has only the steps before it: a trailing window, biased a little high
 * while the loss still falls; a run trained past it has both sides, unbiased where the loss falls
 * linearly). Each per-step loss is a minibatch's, hence the mean. Undefined when no finite loss is there,
 * or when the target came within TARGET_LOSS_MIN_STEP steps (the window would reach back to the start).
 */
export function trainLossAtStep(steps: readonly { step: number; loss: number }[], step: number): number | undefined {
  if (step < TARGET_LOSS_MIN_STEP) return undefined;
  const half = Math.max(TARGET_LOSS_WINDOW_MIN_STEPS, Math.round(TARGET_LOSS_WINDOW_SHARE * step));
  const near = steps.filter((s) => Math.abs(s.step - step) <= half && Number.isFinite(s.loss));
  return near.length === 0 ? undefined : near.reduce((sum, s) => sum + s.loss, 0) / near.length;
}
