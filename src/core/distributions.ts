/**
 * Quantiles of the normal and Student t distributions, for intervals from a handful of seeds (where a
 * bootstrap has too few values to resample: with 3 seeds there are only 10 distinct resamples).
 * Pure functions, no state.
 */
import { UsageError } from './errors.js';
import type { ConfidenceInterval } from './stats.js';

/** A two-sided interval around an estimate, however it was computed (bootstrap, t, normal). */
export type Interval = Pick<ConfidenceInterval, 'estimate' | 'low' | 'high' | 'confidence'>;

/**
 * Two-sided t interval mean +- t_{(1+c)/2, df} se. With df = Infinity the normal quantile is used
 * (a known standard error). `se` = 0 gives a zero-width interval.
 */
export function tInterval(estimate: number, se: number, df: number, confidence: number): Interval {
  if (!(confidence > 0 && confidence < 1)) {
    throw new UsageError(`confidence must be in (0, 1), got ${confidence}; use e.g. 0.9`);
  }
  const p = (1 + confidence) / 2;
  const q = df === Number.POSITIVE_INFINITY ? normalQuantile(p) : studentTQuantile(p, df);
  return { estimate, low: estimate - q * se, high: estimate + q * se, confidence };
}

/** Throws unless 0 < p < 1. */
function requireProbability(p: number): void {
  if (!(p > 0 && p < 1)) throw new UsageError(`a quantile needs a probability in (0, 1), got ${p}`);
}

/** Coefficients of Acklam's rational approximation of the normal quantile (central region and tails). */
const ACKLAM_A = [
  -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239,
];
const ACKLAM_B = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
const ACKLAM_C = [
  -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
  2.938163982698783,
];
const ACKLAM_D = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
/** Below this probability (and above 1 - it) the tail formula is used. */
const ACKLAM_TAIL = 0.02425;

/** Horner evaluation of c[0] x^(n-1) + ... + c[n-1]. */
function poly(c: readonly number[], x: number): number {
  let s = 0;
  for (const v of c) s = s * x + v;
  return s;
}

/**
 * Standard normal quantile z_p (P(Z <= z_p) = p): P. J. Acklam's rational approximation, relative error
 * below 1.2e-9 over (0, 1), far below what any interval here needs.
 */
export function normalQuantile(p: number): number {
  requireProbability(p);
  let x: number;
  if (p < ACKLAM_TAIL || p > 1 - ACKLAM_TAIL) {
    const q = Math.sqrt(-2 * Math.log(p < 0.5 ? p : 1 - p));
    x = poly(ACKLAM_C, q) / (poly(ACKLAM_D, q) * q + 1);
    if (p > 0.5) x = -x;
  } else {
    const q = p - 0.5;
    const r = q * q;
    x = (poly(ACKLAM_A, r) * q) / (poly(ACKLAM_B, r) * r + 1);
  }
  return x;
}

/**
 * Standard normal distribution function Phi(x) = erfc(-x / sqrt 2) / 2, with erfc from the Chebyshev
 * fit of Numerical Recipes (erfcc; fractional error below 1.2e-7 everywhere).
 */
export function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * z);
  const c = [
    0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806, 0.09678418, 0.37409196, 1.00002368,
    -1.26551223,
  ];
  const erfc = t * Math.exp(-z * z + poly(c, t));
  return x >= 0 ? 1 - erfc / 2 : erfc / 2;
}

/** ln Gamma(x) for x > 0 (Lanczos, g = 7, 9 terms; relative error ~1e-15). */
function logGamma(x: number): number {
  const c = [
    0.9999999999998099, 676.5203681218851, -1259.1392167224028, 771.3234287776531, -176.61503916999186,
    12.507343278686905, -0.13857109526572012, 9.984369578019572e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const y = x - 1;
  let a = c[0] as number;
  const t = y + 7.5;
  for (let i = 1; i < 9; i++) a += (c[i] as number) / (y + i);
  return 0.5 * Math.log(2 * Math.PI) + (y + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the incomplete beta function (modified Lentz; Numerical Recipes betacf). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const TINY = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    for (const num of [
      (m * (b - m) * x) / ((a + m2 - 1) * (a + m2)),
      (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1)),
    ]) {
      d = 1 + num * d;
      if (Math.abs(d) < TINY) d = TINY;
      c = 1 + num / c;
      if (Math.abs(c) < TINY) c = TINY;
      d = 1 / d;
      h *= d * c;
    }
    if (Math.abs(d * c - 1) < 1e-15) break;
  }
  return h;
}

/** Regularized incomplete beta I_x(a, b), 0 <= x <= 1. */
function incompleteBeta(a: number, b: number, x: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  // The continued fraction converges fast for x < (a + 1) / (a + b + 2); use the symmetry I_x(a,b) = 1 - I_{1-x}(b,a) otherwise.
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(a, b, x)) / a;
  return 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
}

/** Throws unless df is finite and > 0. */
function requireDf(df: number): void {
  if (!(Number.isFinite(df) && df > 0)) {
    throw new UsageError(`Student t needs degrees of freedom > 0, got ${df}; it needs at least 2 values`);
  }
}

/** Student t distribution function P(T <= t) with df degrees of freedom: 1 - I_x(df/2, 1/2) / 2 for t > 0, x = df / (df + t^2). */
export function studentTCdf(t: number, df: number): number {
  requireDf(df);
  const tail = 0.5 * incompleteBeta(df / 2, 0.5, df / (df + t * t));
  return t >= 0 ? 1 - tail : tail;
}

/**
 * Student t quantile t_{p, df} (P(T <= t) = p) by bisection on studentTCdf (to 1e-12 relative): slow
 * (~100 distribution evaluations) but exact enough and simple. Tends to normalQuantile as df grows.
 */
export function studentTQuantile(p: number, df: number): number {
  requireProbability(p);
  requireDf(df);
  if (p === 0.5) return 0;
  const upper = p > 0.5 ? p : 1 - p;
  let lo = 0;
  let hi = 1;
  while (studentTCdf(hi, df) < upper) hi *= 2;
  while (hi - lo > 1e-12 * hi) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, df) < upper) lo = mid;
    else hi = mid;
  }
  const t = (lo + hi) / 2;
  return p > 0.5 ? t : -t;
}
