/**
 * Gradient noise scale (McCandlish, Kaplan, Amodei et al. 2018, "An Empirical Model of Large-Batch
 * Training", arXiv 1812.06162, App. A).
 *
 * For a batch of B samples drawn with replacement, the batch gradient G_B has mean G and covariance
 * Sigma / B, where Sigma is the per-sample gradient covariance, so
 *   E |G_B|^2 = |G|^2 + tr(Sigma) / B                                  (App. A)
 * Measuring |G_b|^2 and |G_B|^2 at two batch sizes b < B and solving the two equations gives the
 * unbiased estimates (App. A; derived here by solving the two expectations)
 *   |G|^2     ~ (B |G_B|^2 - b |G_b|^2) / (B - b)
 *   tr(Sigma) ~ (|G_b|^2 - |G_B|^2) / (1/b - 1/B)
 * and the simple noise scale B_simple = tr(Sigma) / |G|^2 (Sec. 2 of the paper). Both estimates are noisy and the
 * ratio of unbiased estimates is biased, so numerator and denominator are averaged separately (an EMA
 * while training, a mean over steps for an interval) before the ratio is taken.
 *
 * With gradient accumulation the two sizes come for free: b = micro-batch size with |G_b|^2 = the mean
 * over micro-batches of |g_micro|^2 (StepRecord.microGradSqNorm), and B = b k with |G_B|^2 the squared
 * norm of the averaged gradient (StepRecord.gradSqNorm).
 */
import { UsageError } from './errors.js';
import type { Rng } from './random.js';
import { bootstrapWindowsCI, DEFAULT_BOOTSTRAP_ITERATIONS, DEFAULT_CONFIDENCE } from './stats.js';
import type { StepRecord } from './types.js';

/** Default EMA weight of the newest step in the tracker (about a 100-step window). */
export const DEFAULT_NOISE_EMA_ALPHA = 0.01;
/** Default number of windows for the bootstrap over steps. */
export const DEFAULT_NOISE_WINDOWS = 10;

/** Squared gradient norms measured at two batch sizes. */
export interface TwoBatchNorms {
  /** b, samples in the small batch. */
  smallBatch: number;
  /** |G_b|^2. */
  smallSqNorm: number;
  /** B > b, samples in the big batch. */
  bigBatch: number;
  /** |G_B|^2. */
  bigSqNorm: number;
}

/** Unbiased per-step estimates of |G|^2 and tr(Sigma). Either may be <= 0 on a single step. */
export interface NoiseTerms {
  /** Estimate of |G|^2, the squared norm of the true (population) gradient. */
  gradSqNorm: number;
  /** Estimate of tr(Sigma), the trace of the per-sample gradient covariance. */
  traceSigma: number;
}

/** Why a noise scale is or is not reported. */
export type NoiseStatus =
  /** B_simple is defined: both smoothed terms are positive. */
  | 'ok'
  /** The |G|^2 estimate is <= 0: the gradient signal is below the noise; not measurable yet. */
  | 'gradient-not-measurable'
  /** The tr(Sigma) estimate is <= 0: no gradient noise resolved; not measurable yet. */
  | 'noise-not-measurable'
  /** No step had two different batch sizes (accumulation steps k = 1 everywhere). */
  | 'no-two-batch-sizes';

/**
 * Per-step two-batch estimates (McCandlish et al. 2018, App. A):
 * |G|^2 = (B |G_B|^2 - b |G_b|^2) / (B - b), tr(Sigma) = (|G_b|^2 - |G_B|^2) / (1/b - 1/B).
 * Throws unless 0 < b < B and both norms are finite and >= 0.
 */
export function noiseTerms(input: TwoBatchNorms): NoiseTerms {
  const { smallBatch: b, smallSqNorm: gb, bigBatch: B, bigSqNorm: gB } = input;
  if (!(Number.isFinite(b) && Number.isFinite(B) && b > 0 && B > b)) {
    throw new UsageError(
      `noise scale needs two batch sizes 0 < b < B, got b = ${b}, B = ${B}; use gradient accumulation with at least 2 micro-batches`,
    );
  }
  if (!(Number.isFinite(gb) && Number.isFinite(gB) && gb >= 0 && gB >= 0)) {
    throw new UsageError(`squared gradient norms must be finite and >= 0, got |G_b|^2 = ${gb}, |G_B|^2 = ${gB}`);
  }
  return {
    gradSqNorm: (B * gB - b * gb) / (B - b),
    traceSigma: (gb - gB) / (1 / b - 1 / B),
  };
}

/** B_simple = tr(Sigma) / |G|^2 from (smoothed) terms, with the reason when it is not defined. */
export function simpleNoiseScale(terms: NoiseTerms): { bSimple: number | undefined; status: NoiseStatus } {
  if (!(terms.gradSqNorm > 0)) return { bSimple: undefined, status: 'gradient-not-measurable' };
  if (!(terms.traceSigma > 0)) return { bSimple: undefined, status: 'noise-not-measurable' };
  return { bSimple: terms.traceSigma / terms.gradSqNorm, status: 'ok' };
}

/** The StepRecord fields the noise estimators read. */
export type NoiseStepRecord = Pick<
  StepRecord,
  'step' | 'batchSize' | 'microBatchSize' | 'accumSteps' | 'gradSqNorm' | 'microGradSqNorm'
>;

/**
 * The two-batch terms of one step, or undefined when the step cannot give them: accumSteps < 2
 * (only one batch size), or a partial batch (batchSize != microBatchSize * accumSteps, so the
 * micro-batches differ in size and b is not defined).
 */
export function termsFromRecord(record: NoiseStepRecord): NoiseTerms | undefined {
  if (record.accumSteps < 2 || record.batchSize !== record.microBatchSize * record.accumSteps) return undefined;
  return noiseTerms({
    smallBatch: record.microBatchSize,
    smallSqNorm: record.microGradSqNorm,
    bigBatch: record.batchSize,
    bigSqNorm: record.gradSqNorm,
  });
}

/** One point of the smoothed noise-scale series. */
export interface NoiseScalePoint extends NoiseTerms {
  step: number;
  /** Bias-corrected EMA of the per-step |G|^2 estimates up to and including this step. */
  smoothedGradSqNorm: number;
  /** Bias-corrected EMA of the per-step tr(Sigma) estimates up to and including this step. */
  smoothedTraceSigma: number;
  /** smoothedTraceSigma / smoothedGradSqNorm when status is 'ok', else undefined. */
  bSimple: number | undefined;
  status: NoiseStatus;
}

/**
 * Streaming noise-scale tracker. State: the two EMA accumulators and the decay (1 - alpha)^t, all
 * held in the instance. Each usable step updates m <- (1 - alpha) m + alpha x for both terms; the
 * reported values are m / (1 - (1 - alpha)^t) (bias-corrected, as stats.ema), and
 * B_simple = EMA[tr(Sigma)] / EMA[|G|^2].
 */
export class NoiseScaleTracker {
  readonly alpha: number;
  private gradAcc = 0;
  private traceAcc = 0;
  private decay = 1;
  private used = 0;
  private last: NoiseScalePoint | undefined;

  constructor(options: { alpha?: number } = {}) {
    this.alpha = options.alpha ?? DEFAULT_NOISE_EMA_ALPHA;
    if (!(this.alpha > 0 && this.alpha <= 1)) {
      throw new UsageError(`noise EMA weight alpha must be in (0, 1], got ${this.alpha}; use e.g. 0.01`);
    }
  }

  /** Number of steps that contributed (steps with two batch sizes). */
  get steps(): number {
    return this.used;
  }

  /** The latest point, or undefined before the first usable step. */
  get current(): NoiseScalePoint | undefined {
    return this.last;
  }

  /** Ingests one step; returns the updated point, or undefined if the step has no two batch sizes. */
  ingest(record: NoiseStepRecord): NoiseScalePoint | undefined {
    const terms = termsFromRecord(record);
    if (terms === undefined) return undefined;
    const a = this.alpha;
    this.gradAcc = (1 - a) * this.gradAcc + a * terms.gradSqNorm;
    this.traceAcc = (1 - a) * this.traceAcc + a * terms.traceSigma;
    this.decay *= 1 - a;
    this.used++;
    const smoothed: NoiseTerms = {
      gradSqNorm: this.gradAcc / (1 - this.decay),
      traceSigma: this.traceAcc / (1 - this.decay),
    };
    this.last = {
      step: record.step,
      ...terms,
      smoothedGradSqNorm: smoothed.gradSqNorm,
      smoothedTraceSigma: smoothed.traceSigma,
      ...simpleNoiseScale(smoothed),
    };
    return this.last;
  }
}

/** Runs a fresh tracker over `records` and returns the point of every usable step, in order. */
export function noiseScaleSeries(
  records: readonly NoiseStepRecord[],
  options: { alpha?: number } = {},
): NoiseScalePoint[] {
  const tracker = new NoiseScaleTracker(options);
  const out: NoiseScalePoint[] = [];
  for (const r of records) {
    const p = tracker.ingest(r);
    if (p !== undefined) out.push(p);
  }
  return out;
}

/** B_simple over a set of steps with a bootstrap confidence interval. */
export interface NoiseScaleEstimate {
  /** mean tr(Sigma) / mean |G|^2 over the usable steps when status is 'ok', else undefined. */
  bSimple: number | undefined;
  status: NoiseStatus;
  /** Interval ends (>= 0); high is Infinity when more than (1 - confidence)/2 of the resamples had mean |G|^2 <= 0. */
  low: number | undefined;
  high: number | undefined;
  confidence: number;
  /** Mean of the per-step |G|^2 and tr(Sigma) estimates. */
  gradSqNorm: number | undefined;
  traceSigma: number | undefined;
  /** Usable steps (with two batch sizes) and the number of windows they were cut into. */
  steps: number;
  windows: number;
}

/** Options of noiseScaleWithCI. */
export interface NoiseScaleCIOptions {
  /** Contiguous windows of steps to resample (default DEFAULT_NOISE_WINDOWS; at most the number of usable steps). */
  windows?: number;
  confidence?: number;
  iterations?: number;
  rng: Rng;
}

/**
 * Ratio of means: sum tr / sum |G|^2. Infinity when mean |G|^2 <= 0 < mean tr (signal not resolved,
 * so B_simple is unbounded above), 0 when mean tr <= 0 < mean |G|^2, NaN when both are <= 0.
 */
function ratioOfMeans(terms: readonly NoiseTerms[]): number {
  let g = 0;
  let t = 0;
  for (const x of terms) {
    g += x.gradSqNorm;
    t += x.traceSigma;
  }
  if (g > 0) return t > 0 ? t / g : 0;
  return t > 0 ? Number.POSITIVE_INFINITY : Number.NaN;
}

/**
 * B_simple with a confidence interval from the window (block) bootstrap over steps
 * (stats.bootstrapWindowsCI): the usable steps, in order, are cut into `windows` contiguous windows,
 * windows are resampled with replacement, and each resample gives mean tr(Sigma) / mean |G|^2.
 * Windows keep neighbouring, correlated steps together. The point estimate is the same ratio of means
 * over all usable steps; it is undefined (with the status saying why) when a mean is <= 0.
 */
export function noiseScaleWithCI(
  records: readonly NoiseStepRecord[],
  options: NoiseScaleCIOptions,
): NoiseScaleEstimate {
  const terms: NoiseTerms[] = [];
  for (const r of records) {
    const t = termsFromRecord(r);
    if (t !== undefined) terms.push(t);
  }
  const confidence = options.confidence ?? DEFAULT_CONFIDENCE;
  if (terms.length === 0) {
    return {
      bSimple: undefined,
      status: 'no-two-batch-sizes',
      low: undefined,
      high: undefined,
      confidence,
      gradSqNorm: undefined,
      traceSigma: undefined,
      steps: 0,
      windows: 0,
    };
  }
  const windows = Math.min(options.windows ?? DEFAULT_NOISE_WINDOWS, terms.length);
  const gradSqNorm = terms.reduce((s, x) => s + x.gradSqNorm, 0) / terms.length;
  const traceSigma = terms.reduce((s, x) => s + x.traceSigma, 0) / terms.length;
  const ci = bootstrapWindowsCI(terms, ratioOfMeans, {
    windows,
    confidence,
    iterations: options.iterations ?? DEFAULT_BOOTSTRAP_ITERATIONS,
    rng: options.rng,
    keepInfinite: true,
  });
  const point = simpleNoiseScale({ gradSqNorm, traceSigma });
  const interval = ci.iterations > 0 ? { low: ci.low, high: ci.high } : { low: undefined, high: undefined };
  return { ...point, ...interval, confidence, gradSqNorm, traceSigma, steps: terms.length, windows };
}
