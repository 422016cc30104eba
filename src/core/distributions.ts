/**
 * The probability distributions the verdicts rest on: normal and Student-t (cdf and exact quantiles) and
 * the power of a two-sided t-test (noncentral t). Pure functions, no tables: every value comes from the
 * regularized incomplete gamma and beta functions, computed as in Numerical Recipes (Press et al., 3rd ed.,
 * sections 6.1-6.4), and checked in the tests against published tables and closed forms.
 */
import { UsageError } from './errors.js';

/** Relative accuracy the series, continued fractions and quantile inversions aim for. */
const EPS = 1e-15;
/** Smallest positive normal double / EPS: keeps Lentz's continued fraction away from division by zero. */
const TINY = 1e-300;
/** Iteration cap of the series and continued fractions (they converge in < 200 for the arguments we use). */
const MAX_ITERATIONS = 10_000;

/** Lanczos coefficients for g = 7, n = 9 (Godfrey's set; relative error < 1e-15 for x > 0). */
const LANCZOS_G = 7;
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Gamma(x) for x > 0 by the Lanczos approximation (reflection Gamma(x) Gamma(1-x) = pi / sin(pi x) below 0.5). */
export function logGamma(x: number): number {
  if (!(x > 0)) throw new UsageError(`logGamma needs x > 0, got ${x}`);
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0] as number;
  const t = z + LANCZOS_G + 0.5;
  for (let i = 1; i < LANCZOS.length; i++) a += (LANCZOS[i] as number) / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** P(a, x) by its power series (converges fast for x < a + 1): e^-x x^a / Gamma(a+1) sum x^n / ((a+1)...(a+n)). */
function gammaSeries(a: number, x: number): number {
  let term = 1 / a;
  let sum = term;
  for (let n = 1; n < MAX_ITERATIONS && Math.abs(term) > Math.abs(sum) * EPS; n++) {
    term *= x / (a + n);
    sum += term;
  }
  return sum * Math.exp(-x + a * Math.log(x) - logGamma(a));
}

/** Q(a, x) by its continued fraction (modified Lentz; converges fast for x >= a + 1). */
function gammaContinuedFraction(a: number, x: number): number {
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < MAX_ITERATIONS; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) break;
  }
  return Math.exp(-x + a * Math.log(x) - logGamma(a)) * h;
}

/**
 * Regularized upper incomplete gamma Q(a, x) = Gamma(a, x) / Gamma(a) = 1 - P(a, x), for a > 0, x >= 0.
 * Computed directly (not as 1 - P) in the upper tail, so small tail probabilities keep their digits.
 */
export function regularizedGammaQ(a: number, x: number): number {
  if (!(a > 0 && x >= 0)) throw new UsageError(`incomplete gamma needs a > 0 and x >= 0, got a = ${a}, x = ${x}`);
  if (x === 0) return 1;
  return x < a + 1 ? 1 - gammaSeries(a, x) : gammaContinuedFraction(a, x);
}

/** Continued fraction of I_x(a, b) (Numerical Recipes 6.4.5, modified Lentz). */
function betaContinuedFraction(x: number, a: number, b: number): number {
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m < MAX_ITERATIONS; m++) {
    const m2 = 2 * m;
    // Even step: d_{2m} = m (b - m) x / ((a + 2m - 1)(a + 2m)).
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    h *= d * c;
    // Odd step: d_{2m+1} = -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1)).
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) break;
  }
  return h;
}

/**
 * Regularized incomplete beta I_x(a, b) = B(x; a, b) / B(a, b) for 0 <= x <= 1, a, b > 0. The continued
 * fraction converges fast for x < (a + 1) / (a + b + 2); above that the symmetry I_x(a, b) = 1 - I_{1-x}(b, a)
 * is used (Numerical Recipes 6.4).
 */
export function regularizedBeta(x: number, a: number, b: number): number {
  if (!(a > 0 && b > 0 && x >= 0 && x <= 1)) {
    throw new UsageError(`incomplete beta needs 0 <= x <= 1 and a, b > 0, got x = ${x}, a = ${a}, b = ${b}`);
  }
  if (x === 0 || x === 1) return x;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x));
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(x, a, b)) / a;
  return 1 - (front * betaContinuedFraction(1 - x, b, a)) / b;
}

/** Standard normal density phi(z) = exp(-z^2 / 2) / sqrt(2 pi). */
export function normalPdf(z: number): number {
  return Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);
}

/** Standard normal cdf Phi(z) = Q(1/2, z^2 / 2) / 2 for z < 0 (the same upper tail by symmetry above 0). */
export function normalCdf(z: number): number {
  if (Number.isNaN(z)) return Number.NaN;
  if (!Number.isFinite(z)) return z > 0 ? 1 : 0;
  const tail = 0.5 * regularizedGammaQ(0.5, 0.5 * z * z);
  return z < 0 ? tail : 1 - tail;
}

/** Throws unless df > 0 (Infinity allowed: the normal limit). */
function requireDf(df: number): void {
  if (!(df > 0))
    throw new UsageError(`Student-t degrees of freedom must be > 0, got ${df}; it needs at least 2 values`);
}

/** Student-t density with `df` degrees of freedom; df = Infinity is the normal density. */
export function studentTPdf(t: number, df: number): number {
  requireDf(df);
  if (df === Number.POSITIVE_INFINITY) return normalPdf(t);
  const logC = logGamma((df + 1) / 2) - logGamma(df / 2) - 0.5 * Math.log(df * Math.PI);
  return Math.exp(logC - ((df + 1) / 2) * Math.log1p((t * t) / df));
}

/**
 * Student-t cdf: with x = df / (df + t^2), P(T <= t) = I_x(df/2, 1/2) / 2 for t < 0 and 1 minus that for
 * t >= 0 (Abramowitz & Stegun 26.7.1 through 26.5.27). df = Infinity is the normal cdf.
 */
export function studentTCdf(t: number, df: number): number {
  requireDf(df);
  if (Number.isNaN(t)) return Number.NaN;
  if (df === Number.POSITIVE_INFINITY) return normalCdf(t);
  if (!Number.isFinite(t)) return t > 0 ? 1 : 0;
  const tail = 0.5 * regularizedBeta(df / (df + t * t), df / 2, 0.5);
  return t < 0 ? tail : 1 - tail;
}

/** Throws unless 0 < p < 1. */
function requireProbability(p: number): void {
  if (!(p > 0 && p < 1)) throw new UsageError(`a quantile needs a probability strictly between 0 and 1, got ${p}`);
}

/**
 * Solves cdf(x) = p for a continuous, increasing cdf by Newton steps from `start`, each kept inside a
 * bracket that shrinks (a bisection step replaces any Newton step that leaves it), so it always converges.
 */
function invertCdf(cdf: (x: number) => number, pdf: (x: number) => number, p: number, start: number): number {
  let lo = start - 1;
  let hi = start + 1;
  while (cdf(lo) > p) lo = start - 2 * (start - lo);
  while (cdf(hi) < p) hi = start + 2 * (hi - start);
  let x = start;
  for (let i = 0; i < 200; i++) {
    const f = cdf(x) - p;
    if (f === 0) return x;
    if (f < 0) lo = x;
    else hi = x;
    let next = x - f / pdf(x);
    if (!(next > lo && next < hi)) next = (lo + hi) / 2;
    if (Math.abs(next - x) <= 1e-14 * Math.max(1, Math.abs(x))) return next;
    x = next;
  }
  return x;
}

/** Standard normal quantile Phi^-1(p), 0 < p < 1 (Newton on normalCdf; about 15 significant digits). */
export function normalQuantile(p: number): number {
  requireProbability(p);
  if (p === 0.5) return 0;
  // Start: the logistic approximation Phi^-1(p) ~ ln(p / (1 - p)) / 1.702 (within 0.01 in the body).
  return invertCdf(normalCdf, normalPdf, p, Math.log(p / (1 - p)) / 1.702);
}

/**
 * Student-t quantile: the t with P(T <= t) = p for T with `df` degrees of freedom (df = Infinity: normal).
 * Exact: df = 1 is the Cauchy quantile tan(pi (p - 1/2)), df = 2 is (2p - 1) / sqrt(2 p (1 - p)) (both closed
 * forms); otherwise Newton on studentTCdf from the Cornish-Fisher start z + (z^3 + z) / (4 df)
 * (Abramowitz & Stegun 26.7.5), to about 14 significant digits.
 */
export function studentTQuantile(p: number, df: number): number {
  requireProbability(p);
  requireDf(df);
  if (df === Number.POSITIVE_INFINITY) return normalQuantile(p);
  if (df === 1) return Math.tan(Math.PI * (p - 0.5));
  if (df === 2) return (2 * p - 1) / Math.sqrt(2 * p * (1 - p));
  const z = normalQuantile(p);
  return invertCdf(
    (t) => studentTCdf(t, df),
    (t) => studentTPdf(t, df),
    p,
    z + (z * z * z + z) / (4 * df),
  );
}

/** Simpson intervals of the power integral (even); 2,000 keep it within 1e-6 of the exact value. */
const POWER_INTERVALS = 2000;

/**
 * Power of the two-sided t-test at level 1 - confidence when the true effect is `delta` standard errors:
 * P(|T'| > c) with c = t_{(1 + confidence)/2, df} and T' = (Z + delta) / W noncentral t, W = sqrt(chi2_df / df).
 * Computed as the integral over W of Phi(delta - c w) + Phi(-delta - c w) against W's density
 * 2 (df/2)^(df/2) / Gamma(df/2) w^(df-1) e^(-df w^2 / 2), by Simpson's rule; df = Infinity gives
 * Phi(delta - z) + Phi(-delta - z) with z the normal quantile.
 */
export function tTestPower(options: { delta: number; df: number; confidence: number }): number {
  const { delta, df, confidence } = options;
  if (!(df >= 1)) throw new UsageError(`t-test power needs df >= 1, got ${df}`);
  if (!(confidence > 0 && confidence < 1)) throw new UsageError(`confidence must be in (0, 1), got ${confidence}`);
  const c = studentTQuantile((1 + confidence) / 2, df);
  const rejects = (w: number): number => normalCdf(delta - c * w) + normalCdf(-delta - c * w);
  if (df === Number.POSITIVE_INFINITY) return rejects(1);
  const logConst = Math.log(2) + (df / 2) * Math.log(df / 2) - logGamma(df / 2);
  const density = (w: number): number =>
    w > 0 ? Math.exp(logConst + (df - 1) * Math.log(w) - (df * w * w) / 2) : df === 1 ? Math.exp(logConst) : 0;
  // W has mean ~1 and sd ~1/sqrt(2 df); beyond 1 + 12/sqrt(df) (and 12 for df = 1) its density is < 1e-12.
  const wMax = 1 + 12 / Math.sqrt(df);
  const h = wMax / POWER_INTERVALS;
  let sum = 0;
  for (let i = 0; i <= POWER_INTERVALS; i++) {
    const w = i * h;
    const weight = i === 0 || i === POWER_INTERVALS ? 1 : i % 2 === 1 ? 4 : 2;
    sum += weight * rejects(w) * density(w);
  }
  return (sum * h) / 3;
}

/** A two-sided interval around an estimate, however it was computed (bootstrap, t, normal). */
export interface Interval {
  estimate: number;
  low: number;
  high: number;
  /** Nominal coverage, e.g. 0.95. */
  confidence: number;
}

/**
 * Two-sided t interval estimate +- t_{(1+c)/2, df} se from a standard error. With df = Infinity the normal
 * quantile is used (a known standard error). `se` = 0 gives a zero-width interval. (From raw values across
 * seeds, use intervals.ts tInterval.)
 */
export function tIntervalFromSe(estimate: number, se: number, df: number, confidence: number): Interval {
  if (!(confidence > 0 && confidence < 1)) {
    throw new UsageError(`confidence must be in (0, 1), got ${confidence}; use e.g. 0.9`);
  }
  const p = (1 + confidence) / 2;
  const q = df === Number.POSITIVE_INFINITY ? normalQuantile(p) : studentTQuantile(p, df);
  return { estimate, low: estimate - q * se, high: estimate + q * se, confidence };
}
