/**
 * What every statement about the usual advice rests on: the runs (one per batch size and seed), how their
 * noise is estimated, and a description of all that a finding line can print. Shared by the trend test
 * (trend.ts) and the best-batch and saturation statements (extremes.ts).
 *
 * Design: every seed runs every batch size from the same initial weights and sample order, so a seed's
 * luck (a good initialization) moves all of its runs alike. The tests therefore compare batch sizes within a
 * seed (one intercept per seed, as in a paired or randomized-block design) and estimate the noise from what
 * is left. A run's own sampling error (the binomial error of an accuracy on n held-out samples, the
 * bootstrap error of a median step time), when given, is a floor under that noise estimate: a few runs can
 * agree more closely than their measurements can resolve, by chance or because they share a held-out set.
 */
import { UsageError } from './errors.js';
import { normalQuantile } from './distributions.js';
import { num } from './format.js';
import { mean } from './stats.js';

/** Two-sided confidence of every interval and verdict of the findings (a 5% false-claim rate). */
export const FINDING_CONFIDENCE = 0.95;

/** A verdict about one claim of the usual advice. */
export type Verdict = 'agrees' | 'contradicts' | 'inconclusive';

/** Whether a metric is analysed as is, or as its logarithm (for positive metrics that change by factors). */
export type Scale = 'linear' | 'log';

/** One run's measurement of a metric. */
export interface Observation {
  batchSize: number;
  /** The run's random seed (initial weights, sample order); runs of one seed are compared with each other. */
  seed: number;
  value: number;
  /**
   * Optional known sampling variance of `value` from inside the run, in the units of `value` (squared):
   * binomialVariance(accuracy, heldOut) for an accuracy, varianceFromInterval(...) for a bootstrap interval.
   */
  samplingVariance?: number;
}

/** What a statement rests on, so a finding line can say it and the JSON can carry it. */
export interface RestsOn {
  /** Distinct random seeds (replicates). */
  seeds: number;
  /** Distinct batch sizes, ascending. */
  batchSizes: number[];
  /** Runs used (at most seeds x batch sizes). */
  runs: number;
  /** Held-out samples per run, for a metric measured on a held-out set. */
  heldOutSamples?: number;
  /** The test, in words. */
  test: string;
  /** Two-sided confidence of the interval. */
  confidence: number;
  /** Where the noise estimate comes from: the spread between runs, or the runs' own sampling error (the floor). */
  noise: NoiseSource;
}

/** Where a noise estimate came from. */
export type NoiseSource = 'spread between runs' | 'sampling error of each run' | 'not estimable';

/** RestsOn of a statement over these observations, with the test's words and its noise estimate. */
export function restsOnFor(
  observations: readonly Observation[],
  parts: { test: string; confidence: number; noise: NoiseEstimate | undefined; heldOutSamples?: number },
): RestsOn {
  const { seeds, batchSizes } = design(observations);
  return {
    seeds: seeds.length,
    batchSizes,
    runs: observations.length,
    ...(parts.heldOutSamples === undefined ? {} : { heldOutSamples: parts.heldOutSamples }),
    test: `${parts.test}${dfWords(parts.noise)}`,
    confidence: parts.confidence,
    noise: parts.noise?.source ?? 'not estimable',
  };
}

/**
 * RestsOn in words a student reads, e.g. "3 seeds x 7 batch sizes (B = 16..1024), 21 runs, 30 held-out
 * samples per run; least-squares trend against log2(B) ...; 95% interval; noise from the spread between runs".
 */
export function describeRestsOn(r: RestsOn): string {
  const seeds = `${r.seeds} seed${r.seeds === 1 ? '' : 's'}`;
  const range = r.batchSizes.length > 0 ? ` (B = ${r.batchSizes[0]}..${r.batchSizes.at(-1)})` : '';
  const heldOut = r.heldOutSamples === undefined ? '' : `, ${num(r.heldOutSamples)} held-out samples per run`;
  const noise = r.noise === 'not estimable' ? 'the noise could not be estimated' : `noise from the ${r.noise}`;
  return `${seeds} x ${r.batchSizes.length} batch sizes${range}, ${r.runs} runs${heldOut}; ${r.test}; ${Math.round(r.confidence * 100)}% interval; ${noise}`;
}

/**
 * Binomial sampling variance of an accuracy measured on n held-out samples, p~(1 - p~) / n, with the
 * Agresti-Coull p~ = (k + 2) / (n + 4), k = accuracy x n: unlike p(1 - p) / n it is not 0 at 0% or 100%,
 * where one more sample could still change the accuracy by 1/n.
 */
export function binomialVariance(accuracy: number, heldOutSamples: number): number {
  if (!(accuracy >= 0 && accuracy <= 1)) throw new UsageError(`accuracy must be in [0, 1], got ${accuracy}`);
  if (!(Number.isInteger(heldOutSamples) && heldOutSamples >= 1)) {
    throw new UsageError(`held-out size must be a positive integer, got ${heldOutSamples}`);
  }
  const p = (accuracy * heldOutSamples + 2) / (heldOutSamples + 4);
  return (p * (1 - p)) / heldOutSamples;
}

/**
 * The variance a two-sided normal-theory interval stands for: ((high - low) / (2 z))^2 with z the normal
 * quantile at (1 + confidence) / 2; turns a run's bootstrap interval into its sampling variance.
 */
export function varianceFromInterval(interval: { low: number; high: number; confidence: number }): number {
  const z = normalQuantile((1 + interval.confidence) / 2);
  return ((interval.high - interval.low) / (2 * z)) ** 2;
}

/** Throws unless the confidence is in (0, 1). */
export function requireConfidence(confidence: number): void {
  if (!(confidence > 0 && confidence < 1)) {
    throw new UsageError(`confidence must be in (0, 1), got ${confidence}; use e.g. ${FINDING_CONFIDENCE}`);
  }
}

/**
 * Checks the observations and returns them on the analysis scale: on 'log', value -> ln(value) and the
 * sampling variance -> variance / value^2 (the delta method). Throws on a bad batch size, a non-finite value,
 * a non-positive value on the log scale, or two runs with the same batch size and seed.
 */
export function onScale(observations: readonly Observation[], scale: Scale): Observation[] {
  const seen = new Set<string>();
  return observations.map((o) => {
    if (!(Number.isInteger(o.batchSize) && o.batchSize > 0)) {
      throw new UsageError(`batch size must be a positive integer, got ${o.batchSize}`);
    }
    if (!Number.isFinite(o.value) || (scale === 'log' && o.value <= 0)) {
      const need = scale === 'log' ? 'a finite value > 0 (it is compared on a log scale)' : 'a finite value';
      throw new UsageError(`the run at B=${o.batchSize}, seed ${o.seed} needs ${need}, got ${o.value}`);
    }
    if (o.samplingVariance !== undefined && !(o.samplingVariance >= 0 && Number.isFinite(o.samplingVariance))) {
      throw new UsageError(`sampling variance must be finite and >= 0, got ${o.samplingVariance} at B=${o.batchSize}`);
    }
    const key = `${o.batchSize}/${o.seed}`;
    if (seen.has(key)) throw new UsageError(`two runs at B=${o.batchSize} with seed ${o.seed}; give one value per run`);
    seen.add(key);
    if (scale === 'linear') return { ...o };
    const v = o.samplingVariance;
    return { ...o, value: Math.log(o.value), samplingVariance: v === undefined ? undefined : v / (o.value * o.value) };
  });
}

/** Distinct seeds and ascending distinct batch sizes of the observations. */
export function design(observations: readonly Observation[]): { seeds: number[]; batchSizes: number[] } {
  return {
    seeds: [...new Set(observations.map((o) => o.seed))],
    batchSizes: [...new Set(observations.map((o) => o.batchSize))].sort((a, b) => a - b),
  };
}

/** The degrees of freedom of a noise estimate in words, for RestsOn.test. */
export function dfWords(noise: NoiseEstimate | undefined): string {
  if (noise === undefined) return '';
  return Number.isFinite(noise.df)
    ? ` (${noise.df} degrees of freedom)`
    : ' (normal: the noise is the known sampling error)';
}

/** A noise variance with its degrees of freedom (Infinity when it is the known sampling error alone). */
export interface NoiseEstimate {
  variance: number;
  df: number;
  source: NoiseSource;
}

/**
 * The noise variance of one run: the residual variance SS / df of the fitted model, floored at the mean
 * known sampling variance when every run has one. The degrees of freedom stay those of the residuals (so the
 * floor only ever widens an interval); with df = 0 the floor alone is used, as a known variance (df =
 * Infinity). Undefined when df = 0 and no run has a known sampling variance: nothing estimates the noise.
 */
export function pooledNoise(
  residualSS: number,
  df: number,
  observations: readonly Observation[],
): NoiseEstimate | undefined {
  const known = observations.map((o) => o.samplingVariance).filter((v): v is number => v !== undefined);
  const floor = known.length === observations.length && known.length > 0 ? mean(known) : undefined;
  if (df >= 1) {
    const residual = residualSS / df;
    if (floor !== undefined && floor > residual) return { variance: floor, df, source: 'sampling error of each run' };
    return { variance: residual, df, source: 'spread between runs' };
  }
  return floor === undefined
    ? undefined
    : { variance: floor, df: Number.POSITIVE_INFINITY, source: 'sampling error of each run' };
}

/** Seed-adjusted level of one batch size in a two-way fit. */
export interface BatchEffect {
  batchSize: number;
  /** Level of the metric at this batch size with the seeds' offsets removed (analysis scale). */
  level: number;
  /** Runs at this batch size. */
  runs: number;
}

/** The additive fit value = level(batch) + offset(seed) + noise. */
export interface TwoWayFit {
  /** Ascending by batch size. */
  batches: BatchEffect[];
  residualSS: number;
  /** Residual degrees of freedom N - K - S + 1 (N runs, K batch sizes, S seeds), at least 0. */
  df: number;
}

/** Largest number of backfitting sweeps; a connected design converges in far fewer. */
const MAX_BACKFIT_SWEEPS = 1000;

/**
 * Least-squares additive fit value = level(B) + offset(seed) by backfitting (alternately set each seed's
 * offset to its mean residual and each batch's level to its mean residual, until nothing moves); seed
 * offsets are centred on 0, so a level is the batch size's mean over seeds in a complete design. With a
 * missing run the fit is still least squares, and comparisons between levels stay paired within seeds.
 */
export function twoWayFit(observations: readonly Observation[]): TwoWayFit {
  const { seeds, batchSizes } = design(observations);
  const level = new Map(batchSizes.map((b) => [b, 0]));
  const offset = new Map(seeds.map((s) => [s, 0]));
  const meanResidual = (key: (o: Observation) => number, other: (o: Observation) => number): Map<number, number> => {
    const sum = new Map<number, [number, number]>();
    for (const o of observations) {
      const [s, n] = sum.get(key(o)) ?? [0, 0];
      sum.set(key(o), [s + o.value - other(o), n + 1]);
    }
    return new Map([...sum].map(([k, [s, n]]) => [k, s / n]));
  };
  const scale = Math.max(1e-300, ...observations.map((o) => Math.abs(o.value)));
  for (let sweep = 0; sweep < MAX_BACKFIT_SWEEPS; sweep++) {
    const newLevel = meanResidual(
      (o) => o.batchSize,
      (o) => offset.get(o.seed) as number,
    );
    const newOffset = meanResidual(
      (o) => o.seed,
      (o) => newLevel.get(o.batchSize) as number,
    );
    const centre = mean([...newOffset.values()]);
    let moved = 0;
    for (const [b, v] of newLevel) moved = Math.max(moved, Math.abs(v + centre - (level.get(b) as number)));
    for (const [b, v] of newLevel) level.set(b, v + centre);
    for (const [s, v] of newOffset) offset.set(s, v - centre);
    if (moved <= 1e-13 * scale) break;
  }
  let residualSS = 0;
  for (const o of observations) {
    const r = o.value - (level.get(o.batchSize) as number) - (offset.get(o.seed) as number);
    residualSS += r * r;
  }
  const runsAt = (b: number): number => observations.filter((o) => o.batchSize === b).length;
  return {
    batches: batchSizes.map((b) => ({ batchSize: b, level: level.get(b) as number, runs: runsAt(b) })),
    residualSS,
    df: Math.max(0, observations.length - batchSizes.length - seeds.length + 1),
  };
}
