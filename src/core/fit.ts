/**
 * Least-squares straight line y = a + b x, optionally weighted. Used for the memory model
 * peakBytes = a + b B, the step-time model stepMs = alpha + beta B, and the steps/examples
 * trade-off S = S_min + E_min / B (linear in 1/B).
 */
import { UsageError } from './errors.js';

/** A fitted line y = intercept + slope x. */
export interface LineFit {
  intercept: number;
  slope: number;
  /**
   * Coefficient of determination R^2 = 1 - SS_res / SS_tot with SS_res = sum w (y - yhat)^2 and
   * SS_tot = sum w (y - ybar_w)^2. When every y is equal (SS_tot = 0) it is 1.
   */
  r2: number;
  /** Number of points used. */
  n: number;
  /**
   * Residual standard deviation sqrt(SS_res / sum w * n / (n - 2)); with unit weights this is the
   * usual sqrt(SS_res / (n - 2)). 0 when n = 2 (a line through two points has no residual).
   */
  residualStd: number;
}

/** Options of `fitLine`. */
export interface FitLineOptions {
  /** Non-negative weight per point (minimizes sum w_i (y_i - a - b x_i)^2); all 1 by default. */
  weights?: readonly number[];
}

/** Checks lengths and finiteness of the inputs; returns the weights (all 1 if none were given). */
function checkedWeights(xs: readonly number[], ys: readonly number[], weights?: readonly number[]): number[] {
  if (xs.length !== ys.length) {
    throw new UsageError(`line fit needs as many y values as x values, got ${xs.length} x and ${ys.length} y`);
  }
  if (weights !== undefined && weights.length !== xs.length) {
    throw new UsageError(`line fit needs one weight per point, got ${weights.length} weights for ${xs.length} points`);
  }
  const w = weights === undefined ? new Array<number>(xs.length).fill(1) : [...weights];
  for (let i = 0; i < xs.length; i++) {
    if (!Number.isFinite(xs[i]) || !Number.isFinite(ys[i])) {
      throw new UsageError(`line fit needs finite points, got (${xs[i]}, ${ys[i]}) at index ${i}`);
    }
    if (!(Number.isFinite(w[i]) && (w[i] as number) >= 0)) {
      throw new UsageError(`line fit weights must be finite and >= 0, got ${w[i]} at index ${i}`);
    }
  }
  return w;
}

/**
 * Weighted ordinary least squares for y = a + b x (closed form):
 * xbar = sum w x / sum w, ybar = sum w y / sum w,
 * b = sum w (x - xbar)(y - ybar) / sum w (x - xbar)^2, a = ybar - b xbar.
 * Points with weight 0 are ignored. Throws when fewer than 2 distinct x values carry weight, since
 * the slope is then undetermined (measure at least two different batch sizes).
 */
export function fitLine(xs: readonly number[], ys: readonly number[], options: FitLineOptions = {}): LineFit {
  const w = checkedWeights(xs, ys, options.weights);
  let sw = 0;
  let swx = 0;
  let swy = 0;
  const used: number[] = [];
  for (let i = 0; i < xs.length; i++) {
    if (w[i] === 0) continue;
    used.push(i);
    sw += w[i] as number;
    swx += (w[i] as number) * (xs[i] as number);
    swy += (w[i] as number) * (ys[i] as number);
  }
  const distinct = new Set(used.map((i) => xs[i])).size;
  if (distinct < 2) {
    throw new UsageError(
      `line fit needs at least 2 distinct x values, got ${distinct} (x = ${[...new Set(xs)].join(', ') || 'none'}); measure at least two different batch sizes`,
    );
  }
  const xbar = swx / sw;
  const ybar = swy / sw;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (const i of used) {
    const dx = (xs[i] as number) - xbar;
    const dy = (ys[i] as number) - ybar;
    sxx += (w[i] as number) * dx * dx;
    sxy += (w[i] as number) * dx * dy;
    syy += (w[i] as number) * dy * dy;
  }
  const slope = sxy / sxx;
  const intercept = ybar - slope * xbar;
  // SS_res from the residuals themselves (S_yy - b S_xy cancels badly for byte-sized values).
  let ssRes = 0;
  for (const i of used) {
    const r = (ys[i] as number) - intercept - slope * (xs[i] as number);
    ssRes += (w[i] as number) * r * r;
  }
  const n = used.length;
  const r2 = syy === 0 ? 1 : 1 - ssRes / syy;
  const residualStd = n > 2 ? Math.sqrt((ssRes / sw) * (n / (n - 2))) : 0;
  return { intercept, slope, r2, n, residualStd };
}

/** Value of the fitted line at x: intercept + slope x. */
export function predictLine(fit: Pick<LineFit, 'intercept' | 'slope'>, x: number): number {
  return fit.intercept + fit.slope * x;
}
