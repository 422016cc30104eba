/**
 * The trend test behind each verdict about the usual advice: does a metric rise or fall with the batch
 * size B, across every batch size and seed of a sweep, beyond the noise?
 *
 * The test: the least-squares slope of the metric (or of its logarithm, for positive metrics that change by
 * factors) against log2(B), with one intercept per seed, and its exact Student-t interval. Why this test:
 * - log2(B): sweeps double B, and the usual advice speaks of "larger" batches, not of a linear law; the slope
 *   is the change per doubling (on the log scale a factor per doubling, "memory x1.9 per doubling").
 * - One intercept per seed: the runs of one seed share their initial weights and sample order, so a seed's
 *   luck moves all of them alike; comparing batch sizes within seeds removes it (the paired design; by the
 *   Frisch-Waugh-Lovell theorem the slope is that of the within-seed deviations). The slope is assumed the
 *   same for every seed; a seed-to-seed difference in slope counts as noise.
 * - Student t: with 3 seeds x 7 batch sizes the noise is estimated from 17 degrees of freedom, where a
 *   normal or a bootstrap interval (which treats the estimated noise as exact) would be too narrow and claim
 *   too often. Under normal, independent noise the interval is exact, so the false-claim rate is exactly
 *   1 - confidence. A monotone trend that is not straight in log2(B) still shows as a slope; its curvature
 *   counts as noise, which only makes the test more careful.
 * - Not a rank correlation (Spearman, Page's test for ordered blocks): with 3 seeds the exact rank tests
 *   lose power against the slope under normal noise, and give no interval in the metric's own units.
 * A run's known sampling error (a held-out accuracy's binomial error) is a floor under the noise (see
 * evidence.ts), so with 30 held-out samples a difference of a fraction of one sample is never significant.
 */
import { studentTQuantile, studentTCdf } from './distributions.js';
import { UsageError } from './errors.js';
import {
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
  type Verdict,
} from './evidence.js';
import { fitLine } from './fit.js';

/** The claims of the usual advice that a sweep checks, in the order its findings state them. */
export const CLAIM_IDS = [
  'memory',
  'samples-per-sec',
  'step-time',
  'loss-noise',
  'gradient-noise',
  'held-out-accuracy',
  'generalization-gap',
  'sharpness',
] as const;
export type ClaimId = (typeof CLAIM_IDS)[number];

/** One claim of the usual advice about batch size. */
export interface Claim {
  id: ClaimId;
  /** What is measured per run, as a finding line names it. */
  quantity: string;
  /** How the usual advice says the quantity moves as B grows. */
  direction: 'rises' | 'falls';
  /** 'log' for positive quantities that change by factors; 'linear' for accuracies, gaps and eigenvalues. */
  scale: Scale;
  /** The claim in words. */
  advice: string;
}

/**
 * The usual advice, claim by claim (the project's mission text states them in prose). Each run's value: memory = peak bytes; samples-per-sec = B / median step time; step-time =
 * median ms per step; loss-noise = lossNoise; gradient-noise = B_simple / B (the noise-to-signal ratio of a
 * batch gradient, E|G_B - G|^2 / |G|^2 = tr(Sigma) / (B |G|^2), McCandlish et al. 2018, so "small batches
 * add more noise" reads as a ratio that falls with B); held-out-accuracy and generalization-gap (train -
 * held-out accuracy, or held-out - train loss) as fractions; sharpness = the top Hessian eigenvalue.
 */
export const USUAL_ADVICE: Readonly<Record<ClaimId, Claim>> = {
  memory: {
    id: 'memory',
    quantity: 'peak memory',
    direction: 'rises',
    scale: 'log',
    advice: 'a larger batch needs more memory',
  },
  'samples-per-sec': {
    id: 'samples-per-sec',
    quantity: 'throughput (samples/s)',
    direction: 'rises',
    scale: 'log',
    advice: 'larger batches train faster, using the hardware better',
  },
  'step-time': {
    id: 'step-time',
    quantity: 'time per step',
    direction: 'rises',
    scale: 'log',
    advice: 'a larger batch takes longer per step',
  },
  'loss-noise': {
    id: 'loss-noise',
    quantity: 'loss noise (spread of the loss around its moving average)',
    direction: 'falls',
    scale: 'log',
    advice: 'small batches make training noisier and less stable',
  },
  'gradient-noise': {
    id: 'gradient-noise',
    quantity: 'gradient noise-to-signal ratio B_simple / B',
    direction: 'falls',
    scale: 'log',
    advice: 'small batches add more noise to the gradient updates',
  },
  'held-out-accuracy': {
    id: 'held-out-accuracy',
    quantity: 'held-out accuracy',
    direction: 'falls',
    scale: 'linear',
    advice: 'small batches generalize better',
  },
  'generalization-gap': {
    id: 'generalization-gap',
    quantity: 'generalization gap (train minus held-out)',
    direction: 'rises',
    scale: 'linear',
    advice: 'large batches overfit more',
  },
  sharpness: {
    id: 'sharpness',
    quantity: 'sharpness (top Hessian eigenvalue)',
    direction: 'rises',
    scale: 'linear',
    advice: 'large batches end in sharper minima',
  },
};

/** Power at which the "to settle" estimates would detect the observed trend. */
export const SETTLE_POWER = 0.8;
/** Seeds beyond which no "to settle" estimate is given (the trend is too small to chase). */
export const MAX_SEEDS_TO_SETTLE = 1000;

/** Input of testTrend. */
export interface TrendOptions {
  claim: ClaimId;
  /** One value per run (batch size, seed); at least two batch sizes run with one seed. */
  observations: readonly Observation[];
  /** Held-out samples per run, for a metric measured on a held-out set (enables `toSettle.heldOutSamples`). */
  heldOutSamples?: number;
  /** Two-sided confidence; default FINDING_CONFIDENCE (0.95). */
  confidence?: number;
}

/** How much more data would settle an inconclusive verdict, at the observed trend, with SETTLE_POWER. */
export interface ToSettle {
  /** Seeds (each running every batch size swept) at which the observed trend would be detected. */
  seeds?: number;
  /** Held-out samples per run that would do it with the same seeds (when the held-out error is the limit). */
  heldOutSamples?: number;
}

/** The verdict on one claim, with everything it rests on. */
export interface TrendResult {
  claim: ClaimId;
  verdict: Verdict;
  /** Why, in one plain sentence (no numbers: the caller formats those). */
  reason: string;
  /** Least-squares change per doubling of B (on the log scale: of ln(metric)). */
  slopePerDoubling: number;
  /** Interval of the slope; absent when nothing estimates the noise. */
  interval?: { low: number; high: number; confidence: number };
  /** On the log scale: the factor per doubling exp(slope) and the factors at the interval's ends. */
  factorPerDoubling?: { estimate: number; low?: number; high?: number };
  /**
   * t = slope / standard error (+-Infinity when runs agree exactly: no noise), with its degrees of freedom
   * (Infinity when the noise is the runs' known sampling error alone; JSON writes both infinities as null).
   */
  statistic?: { name: 't'; value: number; df: number };
  /** Two-sided p-value of "no trend". */
  pValue?: number;
  /** Only for 'inconclusive'. */
  toSettle?: ToSettle;
  restsOn: RestsOn;
}

/** Within-seed least squares: slope of y on x = log2(B) with one intercept per seed. */
interface WithinSeedFit {
  slope: number;
  /** Sum over runs of (x - seed mean of x)^2: the slope's standard error is sigma / sqrt(sxx). */
  sxx: number;
  residualSS: number;
  /** N - S - 1. */
  df: number;
}

/** Fits y = a_seed + b log2(B) by ordinary least squares on the within-seed deviations (fit.fitLine). */
function withinSeedSlope(observations: readonly Observation[]): WithinSeedFit {
  const bySeed = new Map<number, Observation[]>();
  for (const o of observations) bySeed.set(o.seed, [...(bySeed.get(o.seed) ?? []), o]);
  const dx: number[] = [];
  const dy: number[] = [];
  for (const runs of bySeed.values()) {
    const xs = runs.map((o) => Math.log2(o.batchSize));
    const xbar = xs.reduce((a, b) => a + b, 0) / xs.length;
    const ybar = runs.reduce((a, o) => a + o.value, 0) / runs.length;
    for (let i = 0; i < runs.length; i++) {
      dx.push((xs[i] as number) - xbar);
      dy.push((runs[i] as Observation).value - ybar);
    }
  }
  const sxx = dx.reduce((a, d) => a + d * d, 0);
  if (!(sxx > 0)) {
    const { batchSizes } = design(observations);
    throw new UsageError(
      `a trend needs at least two batch sizes run with the same seed, got batch sizes ${batchSizes.join(', ') || 'none'} with no seed at two of them; sweep at least two batch sizes`,
    );
  }
  // The deviations have mean 0, so the fitted intercept is 0 and the residuals are those of the model.
  const line = fitLine(dx, dy);
  const n = dx.length;
  const residualSS = n > 2 ? line.residualStd ** 2 * (n - 2) : 0;
  return { slope: line.slope, sxx, residualSS, df: n - bySeed.size - 1 };
}

/**
 * Tests one claim of the usual advice: 'agrees' when the slope's interval lies entirely on the claimed side
 * of 0, 'contradicts' when entirely on the other side, 'inconclusive' when it contains 0 (then with an
 * estimate of the seeds, or held-out samples, that would settle it). Throws unless some seed ran two or
 * more batch sizes.
 */
export function testTrend(options: TrendOptions): TrendResult {
  const claim = USUAL_ADVICE[options.claim];
  if (claim === undefined)
    throw new UsageError(`unknown claim "${options.claim}"; valid: ${Object.keys(USUAL_ADVICE).join(', ')}`);
  const confidence = options.confidence ?? FINDING_CONFIDENCE;
  requireConfidence(confidence);
  const observations = onScale(options.observations, claim.scale);
  const fit = withinSeedSlope(observations);
  const noise = pooledNoise(fit.residualSS, fit.df, observations);
  const restsOn = restsOnFor(observations, {
    test: `least-squares trend of ${claim.scale === 'log' ? 'ln ' : ''}${claim.quantity} against log2(B), one intercept per seed, Student-t interval`,
    confidence,
    noise,
    heldOutSamples: options.heldOutSamples,
  });
  const base = { claim: claim.id, slopePerDoubling: fit.slope, restsOn };
  if (noise === undefined) {
    return {
      ...base,
      verdict: 'inconclusive',
      reason:
        "too few runs to estimate the noise (each seed's runs lie exactly on the fitted line); run more seeds or batch sizes",
      ...(claim.scale === 'log' ? { factorPerDoubling: { estimate: Math.exp(fit.slope) } } : {}),
    };
  }
  return { ...base, ...slopeVerdict(claim, fit, noise, confidence, observations.length, options.heldOutSamples) };
}

/** Interval, statistic, verdict and (when inconclusive) the data that would settle it. */
function slopeVerdict(
  claim: Claim,
  fit: WithinSeedFit,
  noise: NoiseEstimate,
  confidence: number,
  runs: number,
  heldOutSamples: number | undefined,
): Omit<TrendResult, 'claim' | 'slopePerDoubling' | 'restsOn'> {
  const se = Math.sqrt(noise.variance / fit.sxx);
  const tCrit = studentTQuantile((1 + confidence) / 2, noise.df);
  const low = fit.slope - tCrit * se;
  const high = fit.slope + tCrit * se;
  const t = se > 0 ? fit.slope / se : fit.slope === 0 ? 0 : Math.sign(fit.slope) * Number.POSITIVE_INFINITY;
  const pValue = 2 * studentTCdf(-Math.abs(t), noise.df);
  const claimed = claim.direction === 'rises' ? 1 : -1;
  const side = low > 0 ? 1 : high < 0 ? -1 : 0;
  const verdict: Verdict = side === 0 ? 'inconclusive' : side === claimed ? 'agrees' : 'contradicts';
  const moved = side > 0 ? 'rises' : 'falls';
  const out: Omit<TrendResult, 'claim' | 'slopePerDoubling' | 'restsOn'> = {
    verdict,
    reason:
      side === 0
        ? `the interval of the trend contains 0: the ${claim.quantity} moves within the noise`
        : `the ${claim.quantity} ${moved} with B beyond the noise: the interval of the trend lies ${side > 0 ? 'above' : 'below'} 0`,
    interval: { low, high, confidence },
    statistic: { name: 't', value: t, df: noise.df },
    pValue,
  };
  if (claim.scale === 'log')
    out.factorPerDoubling = { estimate: Math.exp(fit.slope), low: Math.exp(low), high: Math.exp(high) };
  if (verdict === 'inconclusive') out.toSettle = toSettle(fit, noise, se, confidence, runs, heldOutSamples);
  return out;
}

/** The t the slope must reach to be detected with SETTLE_POWER: t_{(1+c)/2, df} + t_{power, df} (Cohen 1988). */
function detectableT(df: number, confidence: number): number {
  return studentTQuantile((1 + confidence) / 2, df) + studentTQuantile(SETTLE_POWER, df);
}

/**
 * Seeds and held-out samples that would detect the observed slope with SETTLE_POWER, by the usual
 * sample-size rule |slope| / SE' >= t_{(1+c)/2, df'} + t_{power, df'}. With S' seeds, each running the same
 * batch sizes, SE' = SE sqrt(S / S') and df' = S' (runs per seed - 1) - 1. With more held-out samples n' only
 * the sampling-error floor shrinks (as n / n'): that settles it only when the floor is what limits the
 * noise and the spread between runs alone is already small enough. Estimates: the observed slope of an
 * inconclusive test is itself uncertain.
 */
function toSettle(
  fit: WithinSeedFit,
  noise: NoiseEstimate,
  se: number,
  confidence: number,
  runs: number,
  heldOutSamples: number | undefined,
): ToSettle | undefined {
  if (fit.slope === 0 || se === 0) return undefined;
  const seeds = runs - fit.df - 1; // N - (N - S - 1) - 1
  const runsPerSeed = runs / seeds;
  const dfAt = (s: number): number => Math.max(1, Math.round(s * runsPerSeed) - s - 1);
  const detects = (s: number): boolean =>
    Math.abs(fit.slope) / (se * Math.sqrt(seeds / s)) >= detectableT(dfAt(s), confidence);
  const zNeeded = detectableT(Number.POSITIVE_INFINITY, confidence);
  let s = Math.max(seeds + 1, Math.ceil(seeds * ((zNeeded * se) / fit.slope) ** 2));
  while (s <= MAX_SEEDS_TO_SETTLE && !detects(s)) s++;
  while (s > seeds + 1 && detects(s - 1)) s--;
  const out: ToSettle = {};
  if (s <= MAX_SEEDS_TO_SETTLE) out.seeds = s;
  if (heldOutSamples !== undefined && noise.source === 'sampling error of each run') {
    const neededVariance = (fit.slope / detectableT(noise.df, confidence)) ** 2 * fit.sxx;
    const between = fit.df >= 1 ? fit.residualSS / fit.df : 0;
    if (between < neededVariance) out.heldOutSamples = Math.ceil((heldOutSamples * noise.variance) / neededVariance);
  }
  return out.seeds === undefined && out.heldOutSamples === undefined ? undefined : out;
}
