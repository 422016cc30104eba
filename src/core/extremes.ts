/**
 * Statements about a maximum or a saturation point, made only as far as the data carry them:
 * - bestBatches: the batch sizes not significantly worse than the best (a set; one batch only when it beats
 *   every other beyond the noise), and those significantly worse. Best and worse never share a batch.
 * - throughputSaturation: where samples/s stops gaining (per doubling of B), only inside the swept range;
 *   "still rising at the largest batch swept" when the last doubling still gains beyond the threshold.
 * Both rest on the two-way fit of evidence.ts (a level per batch size, an offset per seed) and its pooled
 * noise, so batch sizes are compared within seeds.
 */
import { studentTQuantile } from './distributions.js';
import { UsageError } from './errors.js';
import {
  type BatchEffect,
  design,
  FINDING_CONFIDENCE,
  type NoiseEstimate,
  type Observation,
  onScale,
  pooledNoise,
  type RestsOn,
  requireConfidence,
  restsOnFor,
  type Scale,
  type TwoWayFit,
  twoWayFit,
} from './evidence.js';
import { DEFAULT_GAIN_THRESHOLD } from './throughput.js';

/** A difference (or, on the log scale, a ln ratio) with its interval. */
export interface Difference {
  estimate: number;
  low: number;
  high: number;
}

/** One batch size in the best-batch statement. */
export interface RankedBatch {
  batchSize: number;
  /** Seed-adjusted mean (on the log scale: geometric mean), in the metric's units. */
  level: number;
  runs: number;
  /** How far it falls short of the best, on the analysis scale (0 for the best; >= 0 means worse). */
  shortOfBest: Difference;
}

/** Input of bestBatches. */
export interface BestBatchOptions {
  observations: readonly Observation[];
  /** Whether a higher value (accuracy) or a lower one (loss, steps to target) is better. */
  better: 'higher' | 'lower';
  /** Default 'linear'. */
  scale?: Scale;
  heldOutSamples?: number;
  /** Default FINDING_CONFIDENCE. */
  confidence?: number;
}

/** The best-batch statement. */
export interface BestBatchResult {
  /**
   * 'single': one batch size beats every other beyond the noise; 'set': some are worse than the best, the
   * rest tie with it within the noise; 'inconclusive': no batch size is shown worse than another.
   */
  outcome: 'single' | 'set' | 'inconclusive';
  /** Batch sizes not significantly worse than the best (ascending; never empty). */
  best: number[];
  /** Batch sizes significantly worse than the best (ascending; disjoint from `best`). */
  worse: number[];
  batches: RankedBatch[];
  /** The multiplier of a difference's standard error that separates "worse" from "within the noise". */
  criticalValue: number;
  reason: string;
  restsOn: RestsOn;
}

/**
 * The batch sizes not significantly worse than the best. With K batch sizes, the observed best b* and the
 * standard error of a difference SE_ij = sigma sqrt(1/n_i + 1/n_j), batch j is "worse" when
 * level(b*) - level(j) > c SE_b*j (for 'higher'; mirrored for 'lower'), with c = t_{1 - alpha/(K(K-1)), df}
 * and alpha = 1 - confidence. Why this c: when no batch size differs, a false "worse" happens exactly when the
 * range of the K levels exceeds c SE, and by Bonferroni over the K(K-1)/2 pairs that has probability <= alpha
 * (a slightly conservative form of Tukey's studentized range test). So a sweep without any effect calls a
 * batch "worse" at most 5% of the time, and the best set is never a single batch by the luck of one run.
 */
export function bestBatches(options: BestBatchOptions): BestBatchResult {
  const confidence = options.confidence ?? FINDING_CONFIDENCE;
  requireConfidence(confidence);
  const scale = options.scale ?? 'linear';
  const observations = onScale(options.observations, scale);
  const { fit, noise } = fitLevels(observations, 'a best batch');
  const k = fit.batches.length;
  const sign = options.better === 'higher' ? 1 : -1;
  const top = fit.batches.reduce((a, b) => (sign * b.level > sign * a.level ? b : a));
  const c = noise ? studentTQuantile(1 - (1 - confidence) / (k * (k - 1)), noise.df) : Number.POSITIVE_INFINITY;
  const batches = fit.batches.map((b) => ranked(b, top, sign, c, noise, scale));
  const worse = batches.filter((b) => b.shortOfBest.low > 0).map((b) => b.batchSize);
  const best = batches.filter((b) => !(b.shortOfBest.low > 0)).map((b) => b.batchSize);
  const outcome = worse.length === 0 ? 'inconclusive' : best.length === 1 ? 'single' : 'set';
  return {
    outcome,
    best,
    worse,
    batches,
    criticalValue: c,
    reason: bestReason(outcome, noise),
    restsOn: restsOnFor(observations, {
      test: `each batch size against the best, paired within seeds, Bonferroni over all ${(k * (k - 1)) / 2} pairs (no batch is called worse by chance more than ${Math.round((1 - confidence) * 100)}% of the time), Student t`,
      confidence,
      noise,
      heldOutSamples: options.heldOutSamples,
    }),
  };
}

/** Two-way fit (level per batch size, offset per seed) and its pooled noise; needs two batch sizes. */
function fitLevels(observations: readonly Observation[], what: string): { fit: TwoWayFit; noise?: NoiseEstimate } {
  const { batchSizes } = design(observations);
  if (batchSizes.length < 2) {
    throw new UsageError(`${what} needs at least two batch sizes, got ${batchSizes.join(', ') || 'none'}`);
  }
  const fit = twoWayFit(observations);
  return { fit, noise: pooledNoise(fit.residualSS, fit.df, observations) };
}

/** One batch's shortfall from the best with its interval (half-width c SE). */
function ranked(
  b: BatchEffect,
  top: BatchEffect,
  sign: number,
  c: number,
  noise: NoiseEstimate | undefined,
  scale: Scale,
): RankedBatch {
  const estimate = sign * (top.level - b.level);
  const half =
    b === top ? 0 : noise ? c * Math.sqrt(noise.variance * (1 / b.runs + 1 / top.runs)) : Number.POSITIVE_INFINITY;
  return {
    batchSize: b.batchSize,
    level: scale === 'log' ? Math.exp(b.level) : b.level,
    runs: b.runs,
    shortOfBest: { estimate, low: estimate - half, high: estimate + half },
  };
}

function bestReason(outcome: BestBatchResult['outcome'], noise: NoiseEstimate | undefined): string {
  if (noise === undefined) return 'one run per batch size and no known sampling error: nothing estimates the noise';
  if (outcome === 'inconclusive') return 'every batch size is within the noise of the best';
  if (outcome === 'single') return 'one batch size beats every other beyond the noise';
  return 'several batch sizes tie with the best within the noise; the others are worse beyond it';
}

/** The throughput gain of one step between adjacent swept batch sizes, per doubling of B. */
export interface DoublingGain {
  from: number;
  to: number;
  /** Relative gain in samples/s per doubling, (T_to / T_from)^(1 / log2(to / from)) - 1, with its interval. */
  gain: Difference;
}

/** Input of throughputSaturation. */
export interface SaturationOptions {
  /** Samples/s per run (optionally with its sampling variance, e.g. from the step-time interval). */
  observations: readonly Observation[];
  /** Gain per doubling below which throughput counts as saturated; default DEFAULT_GAIN_THRESHOLD (10%). */
  gainThreshold?: number;
  confidence?: number;
}

/** The saturation statement. */
export interface SaturationResult {
  /**
   * 'saturated': from `saturatedFrom` up to the largest batch swept, every doubling gains less than the
   * threshold beyond the noise; 'still-rising': the last doubling swept still gains more than the threshold
   * beyond the noise; 'inconclusive': the last doubling's gain is within the noise of the threshold.
   */
  outcome: 'saturated' | 'still-rising' | 'inconclusive';
  /** With 'saturated': a swept batch size below the largest one. */
  saturatedFrom?: number;
  largestBatch: number;
  gainThreshold: number;
  gains: DoublingGain[];
  reason: string;
  restsOn: RestsOn;
}

/**
 * Where throughput stops improving, said only inside the swept range. Each adjacent pair of swept batch
 * sizes gets its gain per doubling from the seed-adjusted levels of ln(samples/s) (two-way fit) with a
 * Student-t interval on the pooled noise. 'saturated' from the smallest batch size from which every later
 * pair's interval lies below the threshold (all must hold, an intersection-union test, so no multiplicity
 * correction is needed); 'still-rising' when the last pair's interval lies above the threshold. Nothing is
 * ever said past the largest batch swept.
 */
export function throughputSaturation(options: SaturationOptions): SaturationResult {
  const g = options.gainThreshold ?? DEFAULT_GAIN_THRESHOLD;
  if (!(g > 0 && g < 1)) throw new UsageError(`throughput gain threshold must be in (0, 1), got ${g}; use e.g. 0.1`);
  const confidence = options.confidence ?? FINDING_CONFIDENCE;
  requireConfidence(confidence);
  const observations = onScale(options.observations, 'log');
  const { fit, noise } = fitLevels(observations, 'a saturation point');
  const gains = doublingGains(fit.batches, noise, confidence);
  let from: number | undefined;
  for (let i = gains.length - 1; i >= 0 && (gains[i] as DoublingGain).gain.high < g; i--) from = gains[i]?.from;
  const last = gains.at(-1) as DoublingGain;
  const outcome = from !== undefined ? 'saturated' : last.gain.low > g ? 'still-rising' : 'inconclusive';
  const largestBatch = (fit.batches.at(-1) as BatchEffect).batchSize;
  return {
    outcome,
    ...(from === undefined ? {} : { saturatedFrom: from }),
    largestBatch,
    gainThreshold: g,
    gains,
    reason: saturationReason(outcome, largestBatch, noise),
    restsOn: restsOnFor(observations, {
      test: 'gain in samples/s per doubling between neighbouring batch sizes, paired within seeds, Student-t intervals',
      confidence,
      noise,
    }),
  };
}

/** Gains per doubling between neighbouring batch sizes, from the ln levels: exp(d / log2(to / from)) - 1. */
function doublingGains(
  batches: readonly BatchEffect[],
  noise: NoiseEstimate | undefined,
  confidence: number,
): DoublingGain[] {
  const tCrit = noise ? studentTQuantile((1 + confidence) / 2, noise.df) : Number.POSITIVE_INFINITY;
  const out: DoublingGain[] = [];
  for (let i = 0; i + 1 < batches.length; i++) {
    const a = batches[i] as BatchEffect;
    const b = batches[i + 1] as BatchEffect;
    const doublings = Math.log2(b.batchSize / a.batchSize);
    const d = b.level - a.level;
    const half = noise ? tCrit * Math.sqrt(noise.variance * (1 / a.runs + 1 / b.runs)) : Number.POSITIVE_INFINITY;
    const perDoubling = (x: number): number => Math.exp(x / doublings) - 1;
    out.push({
      from: a.batchSize,
      to: b.batchSize,
      gain: { estimate: perDoubling(d), low: perDoubling(d - half), high: perDoubling(d + half) },
    });
  }
  return out;
}

function saturationReason(
  outcome: SaturationResult['outcome'],
  largest: number,
  noise: NoiseEstimate | undefined,
): string {
  if (noise === undefined) return 'one run per batch size and no known sampling error: nothing estimates the noise';
  if (outcome === 'saturated')
    return 'every doubling from there to the largest batch swept gains less than the threshold, beyond the noise';
  if (outcome === 'still-rising')
    return `still rising at the largest batch swept (B=${largest}): where it stops lies beyond the sweep`;
  return 'the gain of the last doubling swept is within the noise of the threshold';
}
