/**
 * Throughput: step-time statistics, the step-time model t(B) = alpha + beta B (ms), samples/s and the
 * saturation batch size past which doubling B stops paying.
 */
import { UsageError } from './errors.js';
import { fitLine } from './fit.js';
import { median, quantile } from './stats.js';

/** Default relative throughput gain from doubling B below which throughput counts as saturated. */
export const DEFAULT_GAIN_THRESHOLD = 0.1;

/** Step-time summary after the warm-up steps are excluded. */
export interface StepTimeStats {
  medianMs: number;
  /** Type-7 0.9 quantile (stats.quantile). */
  p90Ms: number;
  /** Steps summarized. */
  n: number;
  /** Leading steps excluded as warm-up. */
  excluded: number;
}

/**
 * Median and p90 of the step times, excluding the first `warmupSteps` steps (kernel compilation,
 * allocator growth and caches make them slow). Throws when no step is left after the warm-up.
 */
export function stepTimeStats(stepMs: readonly number[], options: { warmupSteps: number }): StepTimeStats {
  const w = options.warmupSteps;
  if (!Number.isInteger(w) || w < 0) throw new UsageError(`warm-up steps must be an integer >= 0, got ${w}`);
  if (stepMs.length <= w) {
    throw new UsageError(
      `step-time stats need steps after the ${w} warm-up steps, got ${stepMs.length} steps in all; measure more steps or lower the warm-up`,
    );
  }
  const kept = stepMs.slice(w);
  return { medianMs: median(kept), p90Ms: quantile(kept, 0.9), n: kept.length, excluded: w };
}

/** Step-time model t(B) = alphaMs + betaMsPerSample B. */
export interface StepTimeFit {
  /** Fixed cost per step (launches, optimizer update, framework overhead), ms. */
  alphaMs: number;
  /** Marginal cost per sample, ms. */
  betaMsPerSample: number;
  r2: number;
  n: number;
}

/** One throughput measurement: the typical (e.g. median) step time at a batch size. */
export interface ThroughputPoint {
  batchSize: number;
  stepMs: number;
}

/** Least-squares fit of stepMs = alpha + beta B over the measured points (fit.fitLine). */
export function fitStepTime(points: readonly ThroughputPoint[]): StepTimeFit {
  const line = fitLine(
    points.map((p) => p.batchSize),
    points.map((p) => p.stepMs),
  );
  return { alphaMs: line.intercept, betaMsPerSample: line.slope, r2: line.r2, n: line.n };
}

/** Predicted step time t(B) = alpha + beta B, ms. */
export function predictStepMs(fit: Pick<StepTimeFit, 'alphaMs' | 'betaMsPerSample'>, batchSize: number): number {
  return fit.alphaMs + fit.betaMsPerSample * batchSize;
}

/** Samples per second at batch size B with step time t ms: 1000 B / t. */
export function samplesPerSec(batchSize: number, stepMs: number): number {
  return (1000 * batchSize) / stepMs;
}

/**
 * For the model t(B) = alpha + beta B, the gain of doubling is T(2B)/T(B) - 1 = alpha / (alpha + 2 beta B),
 * which falls below g exactly when B > (1 - g) alpha / (2 g beta). Returns that threshold (continuous,
 * not rounded), or undefined when alpha <= 0 or beta <= 0 (the model has no saturation).
 */
export function saturationBatchFromFit(
  fit: Pick<StepTimeFit, 'alphaMs' | 'betaMsPerSample'>,
  gainThreshold = DEFAULT_GAIN_THRESHOLD,
): number | undefined {
  if (!(fit.alphaMs > 0 && fit.betaMsPerSample > 0)) return undefined;
  return ((1 - gainThreshold) * fit.alphaMs) / (2 * gainThreshold * fit.betaMsPerSample);
}

/** Result of saturationBatch. */
export interface Saturation {
  /** The smallest measured batch size past which doubling gains under the threshold. */
  batchSize: number;
  /** Gain T(2B)/T(B) - 1 at that batch size. */
  gain: number;
  /** 'measured' when 2B was measured too, 'fitted' when both throughputs came from the t(B) model. */
  basis: 'measured' | 'fitted';
}

/** Gain of doubling at measured B: measured when 2B was measured, else from the fit; undefined if neither. */
function doublingGain(
  b: number,
  measured: ReadonlyMap<number, number>,
  fit: StepTimeFit | undefined,
): { gain: number; basis: 'measured' | 'fitted' } | undefined {
  const tB = measured.get(b) as number;
  const t2B = measured.get(2 * b);
  if (t2B !== undefined) return { gain: samplesPerSec(2 * b, t2B) / samplesPerSec(b, tB) - 1, basis: 'measured' };
  if (fit === undefined) return undefined;
  const gain = samplesPerSec(2 * b, predictStepMs(fit, 2 * b)) / samplesPerSec(b, predictStepMs(fit, b)) - 1;
  return { gain, basis: 'fitted' };
}

/**
 * Throughput saturation. For each measured batch size B (ascending) the gain of doubling is
 * T(2B)/T(B) - 1 with T = samples/s: both measured when 2B was measured, else both from the fitted
 * t(B) = alpha + beta B (a ratio of two model values, so a noisy measurement at B is not mixed with the
 * model). The result is the smallest measured B such that the gain is below `gainThreshold` at B and at
 * every larger measured batch size; undefined when throughput still gains at the largest one. Points
 * at the same batch size are merged by their median step time. The fit needs 2+ distinct batch sizes.
 */
export function saturationBatch(
  points: readonly ThroughputPoint[],
  options: { gainThreshold?: number } = {},
): Saturation | undefined {
  const g = options.gainThreshold ?? DEFAULT_GAIN_THRESHOLD;
  if (!(g > 0 && g < 1))
    throw new UsageError(`throughput gain threshold must be in (0, 1), got ${g}; use e.g. 0.1 for 10%`);
  const byBatch = new Map<number, number[]>();
  for (const p of points) {
    if (!(p.batchSize > 0 && p.stepMs > 0)) {
      throw new UsageError(
        `throughput points need batch size > 0 and step time > 0 ms, got batch ${p.batchSize} at ${p.stepMs} ms`,
      );
    }
    byBatch.set(p.batchSize, [...(byBatch.get(p.batchSize) ?? []), p.stepMs]);
  }
  const measured = new Map([...byBatch].map(([b, ts]) => [b, median(ts)] as [number, number]));
  const batches = [...measured.keys()].sort((a, b) => a - b);
  const fit =
    batches.length >= 2 ? fitStepTime([...measured].map(([batchSize, stepMs]) => ({ batchSize, stepMs }))) : undefined;
  let found: Saturation | undefined;
  for (const b of batches) {
    const d = doublingGain(b, measured, fit);
    if (d !== undefined && d.gain < g) found ??= { batchSize: b, ...d };
    else found = undefined; // a later gain above the threshold resets "past which"
  }
  return found;
}

/** Within this share of the best measured samples/s, a larger batch buys no throughput worth its memory (issue 17). */
export const WORTH_WITHIN = 0.05;
/** Leading steps of each probe left out of its step time: the first allocates the allocator's blocks, picks kernels (cuDNN) and fills caches. */
export const PROBE_WARMUP_STEPS = 1;
/** The fitted t(B) = alpha + beta B places the point between two probes only when it describes them at least this well. */
export const MIN_STEP_FIT_R2 = 0.9;

/** One probe's step times (warm-up included), as find-max's probes ran them. */
export interface TimedProbe {
  batchSize: number;
  stepMs: readonly number[];
}

/** The step time and throughput measured at one batch size. */
export interface MeasuredThroughput {
  batchSize: number;
  /** Median step time over the steps kept (every probe at this batch, its warm-up steps excluded), ms. */
  stepMs: number;
  samplesPerSec: number;
  /** Steps kept. */
  steps: number;
}

/** Where throughput stops improving over the probed batch sizes. */
export interface BatchWorth {
  /** Ascending by batch size. */
  points: MeasuredThroughput[];
  /** t(B) = alpha + beta B over the points. */
  fit: StepTimeFit;
  /** The point with the most samples/s. */
  best: MeasuredThroughput;
  /** The share of the best samples/s that counts as "as good" (WORTH_WITHIN). */
  within: number;
  /** The smallest measured batch whose samples/s is at least (1 - within) x the best. */
  measuredFrom: number;
  /**
   * The batch from which throughput stops improving: where the fitted model T(B) = 1000 B / (alpha +
   * beta B) reaches (1 - within) x the best, when the fit is good (R^2 >= MIN_STEP_FIT_R2) and that
   * point lies between measuredFrom and the measured batch below it (the one stretch the probes leave
   * open; basis 'fitted'); else measuredFrom (basis 'measured').
   */
  worthFrom: number;
  basis: 'measured' | 'fitted';
  /**
   * 'flat': the smallest batch timed is already as good; 'saturated': throughput rose, and beyond
   * worthFrom it gains less than `within`: the best is below the largest batch timed, or worthFrom is
   * at most half the largest (a doubling that gained under `within`); 'still-rising': the largest
   * batch timed is the best and worthFrom lies above half of it (near the top of a rising curve
   * "within 5% of the best" is only the 5% the curve leaves below it, not a saturation).
   */
  outcome: 'saturated' | 'flat' | 'still-rising';
}

/**
 * The batch worth using from the probes' step times: each probed batch's median step time with the
 * first `warmupSteps` of every probe left out (stepTimeStats), its samples/s, the fit t(B) = alpha +
 * beta B (fitStepTime), and the smallest measured batch within `within` of the best samples/s, past
 * which a step only gets longer, not more efficient. Probes at the same batch pool their kept steps.
 * Undefined with fewer than two batch sizes timed.
 */
export function batchWorthUsing(
  probes: readonly TimedProbe[],
  options: { within?: number; warmupSteps?: number } = {},
): BatchWorth | undefined {
  const within = options.within ?? WORTH_WITHIN;
  if (!(within > 0 && within < 1)) throw new UsageError(`throughput "within" must be in (0, 1), got ${within}`);
  const warmupSteps = options.warmupSteps ?? PROBE_WARMUP_STEPS;
  const kept = new Map<number, number[]>();
  for (const p of probes) {
    if (p.stepMs.length <= warmupSteps) continue;
    const times = stepTimesAfter(p.stepMs, warmupSteps);
    if (times.length > 0) kept.set(p.batchSize, [...(kept.get(p.batchSize) ?? []), ...times]);
  }
  const points = [...kept]
    .map(([batchSize, times]) => {
      const { medianMs } = stepTimeStats(times, { warmupSteps: 0 });
      return { batchSize, stepMs: medianMs, samplesPerSec: samplesPerSec(batchSize, medianMs), steps: times.length };
    })
    .sort((a, b) => a.batchSize - b.batchSize);
  if (points.length < 2) return undefined;
  const fit = fitStepTime(points);
  const best = points.reduce((a, p) => (p.samplesPerSec > a.samplesPerSec ? p : a));
  const measuredFrom = (points.find((p) => p.samplesPerSec >= (1 - within) * best.samplesPerSec) as MeasuredThroughput)
    .batchSize;
  const below = points.filter((p) => p.batchSize < measuredFrom).at(-1)?.batchSize;
  const fitted = fittedWorthFrom(fit, (1 - within) * best.samplesPerSec);
  const inGap = fitted !== undefined && below !== undefined && fitted > below && fitted < measuredFrom;
  const worthFrom = inGap ? fitted : measuredFrom;
  return {
    points,
    fit,
    best,
    within,
    measuredFrom,
    worthFrom,
    basis: inGap ? 'fitted' : 'measured',
    outcome: worthOutcome(worthFrom, best.batchSize, points),
  };
}

/** BatchWorth.outcome (see there). */
function worthOutcome(
  worthFrom: number,
  bestBatch: number,
  points: readonly MeasuredThroughput[],
): BatchWorth['outcome'] {
  const largest = (points.at(-1) as MeasuredThroughput).batchSize;
  if (worthFrom <= (points[0] as MeasuredThroughput).batchSize) return 'flat';
  return bestBatch < largest || worthFrom <= largest / 2 ? 'saturated' : 'still-rising';
}

/** The positive, finite step times after the warm-up. */
function stepTimesAfter(stepMs: readonly number[], warmupSteps: number): number[] {
  return stepMs.slice(warmupSteps).filter((t) => Number.isFinite(t) && t > 0);
}

/**
 * Where the fitted throughput 1000 B / (alpha + beta B) reaches `samplesPerSec`: B = s alpha / (1000 -
 * s beta), rounded up; undefined for a poor fit (R^2 < MIN_STEP_FIT_R2), alpha or beta <= 0, or a rate
 * the model never reaches (its limit is 1000 / beta).
 */
function fittedWorthFrom(fit: StepTimeFit, samplesPerSec: number): number | undefined {
  if (!(fit.r2 >= MIN_STEP_FIT_R2 && fit.alphaMs > 0 && fit.betaMsPerSample > 0)) return undefined;
  const denominator = 1000 - samplesPerSec * fit.betaMsPerSample;
  return denominator > 0 ? Math.ceil((samplesPerSec * fit.alphaMs) / denominator) : undefined;
}
