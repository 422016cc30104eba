/**
 * Steps/examples trade-off (McCandlish et al. 2018, arXiv 1812.06162, eq. 2.11):
 *   (S / S_min - 1) (E / E_min - 1) = 1,  E = B S,
 * where S(B) is the number of steps to reach a target loss at batch size B, E(B) = B S(B) the number of
 * training examples, S_min the fewest steps (B -> infinity) and E_min the fewest examples (B -> 0).
 *
 * Solving for S: expand with E = B S,
 *   B S^2 / (S_min E_min) - S / S_min - B S / E_min + 1 = 1
 *   => S (B S / (S_min E_min) - 1 / S_min - B / E_min) = 0
 *   => S = S_min + E_min / B = S_min (1 + B_crit / B),   B_crit = E_min / S_min,
 * and E = B S = E_min + B S_min = E_min (1 + B / B_crit). At B = B_crit both S = 2 S_min and
 * E = 2 E_min: the measured critical batch size.
 *
 * S = S_min + E_min u is a straight line in u = 1/B, so S_min (intercept) and E_min (slope) come
 * from a least-squares line fit of measured S against 1/B.
 */
import { UsageError } from './errors.js';
import { fitLine, type LineFit } from './fit.js';

/** One sweep run: batch size and the steps it needed to reach the target. */
export interface StepsToTarget {
  batchSize: number;
  /** Steps to reach the target (finite; leave out runs that never reached it). */
  steps: number;
}

/** Fitted trade-off curve. */
export interface TradeoffFit {
  /** Fewest steps, reached as B -> infinity (intercept of S against 1/B). */
  sMin: number;
  /** Fewest training examples, reached as B -> 0 (slope of S against 1/B). */
  eMin: number;
  /** Measured critical batch size E_min / S_min; undefined unless S_min > 0 and E_min > 0. */
  bCrit: number | undefined;
  /** R^2 of the (weighted) fit of S against 1/B (for 'log', of its last Gauss-Newton step). */
  r2: number;
  /** Runs used. */
  n: number;
}

/** How the runs are weighted in the fit. */
export type TradeoffWeighting =
  /** Minimize the relative error sum ((S_i - Shat_i) / S_i)^2: weights 1 / S_i^2 (default). */
  | 'relative'
  /** Plain least squares on S. */
  | 'none'
  /**
   * Least squares on ln S: minimize sum (ln S_i - ln(S_min + E_min / B_i))^2, the maximum-likelihood fit
   * under multiplicative log-normal noise S_i = S(B_i) exp(e_i). 'relative' weights by the observed S_i,
   * so a point that came out low by chance gets more weight and both S_min and E_min come out biased
   * low (about -1.5% at 10% noise, -5% at 20%, measured); 'log' has no such pull (fitLogSteps).
   */
  | 'log';

/**
 * Fits S = S_min + E_min / B to measured steps-to-target. With the default 'relative' weighting each
 * run has weight 1 / S_i^2, since run-to-run noise in S grows with S; otherwise the few slow
 * small-batch runs would decide the intercept S_min alone. Needs runs at 2 or more distinct batch sizes.
 */
export function fitTradeoff(
  runs: readonly StepsToTarget[],
  options: { weighting?: TradeoffWeighting } = {},
): TradeoffFit {
  for (const r of runs) {
    if (!(Number.isFinite(r.batchSize) && r.batchSize > 0 && Number.isFinite(r.steps) && r.steps > 0)) {
      throw new UsageError(
        `steps-to-target fit needs positive finite batch sizes and step counts, got batch ${r.batchSize} with ${r.steps} steps; leave out runs that never reached the target`,
      );
    }
  }
  const weighting = options.weighting ?? 'relative';
  const u = runs.map((r) => 1 / r.batchSize);
  const s = runs.map((r) => r.steps);
  const weights = weighting === 'none' ? undefined : s.map((x) => 1 / (x * x));
  let line = fitLine(u, s, weights === undefined ? {} : { weights });
  if (weighting === 'log') line = fitLogSteps(u, s, line);
  const sMin = line.intercept;
  const eMin = line.slope;
  const bCrit = sMin > 0 && eMin > 0 ? eMin / sMin : undefined;
  return { sMin, eMin, bCrit, r2: line.r2, n: line.n };
}

/** Most Gauss-Newton steps of the 'log' fit (measured: 9 to 15 reach the 1e-12 stop at 20% noise, from the 'relative' fit). */
const LOG_FIT_ITERATIONS = 20;

/**
 * Least squares on the log scale by Gauss-Newton from a starting line f = a + b u (u = 1/B): with the
 * residuals r_i = ln S_i - ln f_i and d ln f / d(a, b) = (1, u_i) / f_i, each step is the weighted line fit
 * of the working response f_i (1 + r_i) against u_i with weights 1 / f_i^2. Stops when the intercept and
 * slope move less than 1e-12 relative; keeps the last line whose fitted values were all positive (ln f
 * needs f > 0), so a curve that cannot be positive everywhere stays at the start.
 */
function fitLogSteps(u: readonly number[], s: readonly number[], start: LineFit): LineFit {
  const positive = (l: LineFit): boolean => u.every((x) => l.intercept + l.slope * x > 0);
  if (!positive(start)) return start;
  let line = start;
  for (let it = 0; it < LOG_FIT_ITERATIONS; it++) {
    const f = u.map((x) => line.intercept + line.slope * x);
    const y = f.map((v, i) => v * (1 + Math.log((s[i] as number) / v)));
    const next = fitLine(u, y, { weights: f.map((v) => 1 / (v * v)) });
    if (!positive(next)) return line;
    const still =
      Math.abs(next.intercept - line.intercept) <= 1e-12 * Math.abs(line.intercept) &&
      Math.abs(next.slope - line.slope) <= 1e-12 * Math.abs(line.slope);
    line = next;
    if (still) break;
  }
  return line;
}

/** Predicted steps to target S(B) = S_min + E_min / B. */
export function predictSteps(fit: Pick<TradeoffFit, 'sMin' | 'eMin'>, batchSize: number): number {
  return fit.sMin + fit.eMin / batchSize;
}

/** Predicted examples to target E(B) = B S(B) = E_min + S_min B. */
export function predictExamples(fit: Pick<TradeoffFit, 'sMin' | 'eMin'>, batchSize: number): number {
  return fit.eMin + fit.sMin * batchSize;
}
