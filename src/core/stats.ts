/**
 * Descriptive statistics, exponential moving averages and bootstrap confidence intervals.
 * Pure functions; every random choice goes through an injected `Rng`.
 */
import { UsageError } from './errors.js';
import type { Rng } from './random.js';

/** Default number of bootstrap resamples. */
export const DEFAULT_BOOTSTRAP_ITERATIONS = 1000;
/** Default two-sided confidence level of an interval. */
export const DEFAULT_CONFIDENCE = 0.9;

/** Throws unless `values` is a non-empty array of finite numbers. */
function requireFinite(values: readonly number[], what: string): void {
  if (values.length === 0) throw new UsageError(`${what} needs at least one value, got an empty list`);
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      throw new UsageError(`${what} needs finite numbers, got ${values[i]} at index ${i}`);
    }
  }
}

/** Arithmetic mean (1/n) sum x_i. Throws on an empty list or a non-finite value. */
export function mean(values: readonly number[]): number {
  requireFinite(values, 'mean');
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

/**
 * Variance. Sample variance (1/(n-1)) sum (x_i - mean)^2 by default; population variance
 * (1/n) sum (x_i - mean)^2 with `{ sample: false }`. The sample variance of one value is 0.
 */
export function variance(values: readonly number[], options: { sample?: boolean } = {}): number {
  const m = mean(values);
  let ss = 0;
  for (const v of values) ss += (v - m) * (v - m);
  const n = values.length;
  const sample = options.sample ?? true;
  if (sample) return n > 1 ? ss / (n - 1) : 0;
  return ss / n;
}

/** Standard deviation = sqrt(variance(values, options)). */
export function std(values: readonly number[], options: { sample?: boolean } = {}): number {
  return Math.sqrt(variance(values, options));
}

/**
 * Quantile by linear interpolation between order statistics (Hyndman & Fan 1996, type 7; the
 * default of R and NumPy): with x_(0) <= ... <= x_(n-1) sorted, h = (n - 1) p, the result is
 * x_(floor h) + (h - floor h) (x_(floor h + 1) - x_(floor h)). p = 0 gives the minimum, p = 1 the maximum.
 */
export function quantile(values: readonly number[], p: number): number {
  requireFinite(values, 'quantile');
  if (!(p >= 0 && p <= 1)) throw new UsageError(`quantile level must be in [0, 1], got ${p}`);
  // A typed array sorts numerically without a comparator callback (several times faster on bootstrap loops).
  const sorted = Float64Array.from(values).sort();
  return quantileSorted(sorted, p);
}

/** Type-7 quantile of an already ascending-sorted, non-empty array (no checks). */
function quantileSorted(sorted: ArrayLike<number>, p: number): number {
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  const xlo = sorted[lo] as number;
  const xhi = sorted[hi] as number;
  // Written so that infinite order statistics give +-Infinity, not NaN (Infinity - Infinity).
  if (h === lo || xlo === xhi) return xlo;
  return xlo + (h - lo) * (xhi - xlo);
}

/** Median = type-7 quantile at p = 0.5 (the middle value, or the mean of the two middle values). */
export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/** Throws unless 0 < alpha <= 1. */
function requireAlpha(alpha: number): void {
  if (!(alpha > 0 && alpha <= 1)) {
    throw new UsageError(`EMA weight alpha must be in (0, 1], got ${alpha}; use e.g. 0.1 (about a 10-step window)`);
  }
}

/**
 * Bias-corrected exponential moving average, returned for every prefix.
 * m_0 = 0, m_t = (1 - alpha) m_{t-1} + alpha x_t, and the returned value is
 * m_t / (1 - (1 - alpha)^t) (the bias correction of Adam, Kingma & Ba 2015, Alg. 1), which removes
 * the pull towards the zero start: out[0] = x_1 exactly, and a constant series gives that constant.
 * alpha is the weight of the newest value; the effective window is about 1/alpha steps.
 */
export function ema(values: readonly number[], alpha: number): number[] {
  requireAlpha(alpha);
  if (values.length > 0) requireFinite(values, 'ema');
  const out: number[] = [];
  let m = 0;
  let decay = 1; // (1 - alpha)^t
  for (const x of values) {
    m = (1 - alpha) * m + alpha * x;
    decay *= 1 - alpha;
    out.push(m / (1 - decay));
  }
  return out;
}

/**
 * Loss noise: the root-mean-square deviation of each step's loss from its EMA, with the EMA made
 * zero-lag by running it both ways: s_t = (f_t + b_t) / 2, where f = ema(losses, alpha) runs forward and
 * b the same EMA over the reversed series (so b_t covers steps t..n). A one-sided EMA trails a falling loss
 * by about (1/alpha) steps x the slope, and on short runs (large batches) that lag, not the noise, would
 * dominate the residuals; the two-sided average cancels the lag of a linear trend exactly.
 * Result: sqrt((1/n) sum_t (loss_t - s_t)^2). Needs at least 2 losses.
 */
export function lossNoise(losses: readonly number[], alpha: number): number {
  const residuals = lossNoiseResiduals(losses, alpha);
  let ss = 0;
  for (const r of residuals) ss += r * r;
  return Math.sqrt(ss / residuals.length);
}

/**
 * The residuals lossNoise is the RMS of: loss_t - (f_t + b_t) / 2, with f the forward and b the backward
 * bias-corrected EMA (see lossNoise). A block bootstrap of the loss noise resamples these, not the losses:
 * glued blocks of a falling loss would jump at every seam and read as noise.
 */
export function lossNoiseResiduals(losses: readonly number[], alpha: number): number[] {
  if (losses.length < 2) {
    throw new UsageError(`loss noise needs at least 2 steps of loss, got ${losses.length}; train for more steps`);
  }
  const f = ema(losses, alpha);
  const b = ema([...losses].reverse(), alpha).reverse();
  return losses.map((loss, t) => loss - ((f[t] as number) + (b[t] as number)) / 2);
}

/** A two-sided bootstrap confidence interval around a point estimate. */
export interface ConfidenceInterval {
  /** The statistic on the original sample. */
  estimate: number;
  /** Lower end: the (1 - confidence)/2 quantile of the resampled statistics. */
  low: number;
  /** Upper end: the (1 + confidence)/2 quantile of the resampled statistics. */
  high: number;
  confidence: number;
  /** Resamples whose statistic was finite and was used. */
  iterations: number;
  /** Resamples dropped because the statistic was NaN or (unless kept) infinite, e.g. a ratio over zero. */
  dropped: number;
}

/** Options of the bootstrap functions. */
export interface BootstrapOptions {
  /** Number of resamples; default DEFAULT_BOOTSTRAP_ITERATIONS. */
  iterations?: number;
  /** Two-sided confidence level in (0, 1); default DEFAULT_CONFIDENCE. */
  confidence?: number;
  rng: Rng;
  /**
   * Keep resampled statistics of +-Infinity (they sort to the ends, so an end of the interval may
   * be infinite) instead of dropping them. NaN is always dropped. Default false.
   */
  keepInfinite?: boolean;
}

/** Validates bootstrap options and returns the filled-in iterations and confidence. */
function bootstrapSettings(options: BootstrapOptions): { iterations: number; confidence: number } {
  const iterations = options.iterations ?? DEFAULT_BOOTSTRAP_ITERATIONS;
  const confidence = options.confidence ?? DEFAULT_CONFIDENCE;
  if (!Number.isInteger(iterations) || iterations < 1) {
    throw new UsageError(`bootstrap iterations must be a positive integer, got ${iterations}; use e.g. 1000`);
  }
  if (!(confidence > 0 && confidence < 1)) {
    throw new UsageError(`confidence must be in (0, 1), got ${confidence}; use e.g. 0.9`);
  }
  return { iterations, confidence };
}

/** Percentile interval from resampled statistics (NaN, and unless `keepInfinite` +-Infinity, dropped). */
function percentileInterval(
  estimate: number,
  stats: number[],
  confidence: number,
  keepInfinite = false,
): ConfidenceInterval {
  const keep = keepInfinite ? (s: number) => !Number.isNaN(s) : (s: number) => Number.isFinite(s);
  const kept = stats.filter(keep).sort((a, b) => a - b);
  const dropped = stats.length - kept.length;
  if (kept.length === 0) {
    return { estimate, low: Number.NaN, high: Number.NaN, confidence, iterations: 0, dropped };
  }
  return {
    estimate,
    low: quantileSorted(kept, (1 - confidence) / 2),
    high: quantileSorted(kept, (1 + confidence) / 2),
    confidence,
    iterations: kept.length,
    dropped,
  };
}

/**
 * Percentile bootstrap (Efron & Tibshirani 1993, ch. 13): draw `iterations` resamples of size n with
 * replacement, compute `statFn` on each, and return the type-7 quantiles at (1 -/+ confidence)/2.
 * Resamples where `statFn` is NaN (or, unless `keepInfinite`, infinite) are dropped and counted.
 */
export function bootstrapCI<T>(
  samples: readonly T[],
  statFn: (sample: readonly T[]) => number,
  options: BootstrapOptions,
): ConfidenceInterval {
  const { iterations, confidence } = bootstrapSettings(options);
  if (samples.length === 0) throw new UsageError('bootstrap needs at least one sample, got an empty list');
  const n = samples.length;
  const stats: number[] = [];
  const resample = new Array<T>(n);
  for (let it = 0; it < iterations; it++) {
    for (let i = 0; i < n; i++) resample[i] = samples[options.rng.randInt(n)] as T;
    stats.push(statFn(resample));
  }
  return percentileInterval(statFn(samples), stats, confidence, options.keepInfinite);
}

/** Options of the window (block) bootstrap. */
export interface WindowBootstrapOptions extends BootstrapOptions {
  /** Number of contiguous, non-overlapping windows the series is cut into (>= 2). */
  windows: number;
}

/**
 * Splits a series into `windows` contiguous, non-overlapping windows of (nearly) equal length:
 * window w holds indices [floor(w n / W), floor((w + 1) n / W)).
 */
export function splitWindows<T>(series: readonly T[], windows: number): T[][] {
  if (!Number.isInteger(windows) || windows < 1 || windows > series.length) {
    throw new UsageError(
      `window count must be an integer in [1, ${series.length}] (the series length), got ${windows}`,
    );
  }
  const out: T[][] = [];
  for (let w = 0; w < windows; w++) {
    const start = Math.floor((w * series.length) / windows);
    const end = Math.floor(((w + 1) * series.length) / windows);
    out.push(series.slice(start, end));
  }
  return out;
}

/**
 * Non-overlapping block bootstrap for a time series (Carlstein 1986): cut the series into `windows`
 * contiguous windows, draw `windows` windows with replacement, concatenate them, and compute
 * `statFn` on the result; the interval is the percentile interval of those statistics. Resampling
 * whole windows keeps the correlation between neighbouring steps, which an i.i.d. bootstrap would
 * ignore (and so give too narrow an interval).
 */
export function bootstrapWindowsCI<T>(
  series: readonly T[],
  statFn: (sample: readonly T[]) => number,
  options: WindowBootstrapOptions,
): ConfidenceInterval {
  const { iterations, confidence } = bootstrapSettings(options);
  const blocks = splitWindows(series, options.windows);
  const stats: number[] = [];
  for (let it = 0; it < iterations; it++) {
    const resample: T[] = [];
    for (let w = 0; w < blocks.length; w++) {
      for (const item of blocks[options.rng.randInt(blocks.length)] as T[]) resample.push(item);
    }
    stats.push(statFn(resample));
  }
  return percentileInterval(statFn(series), stats, confidence, options.keepInfinite);
}

/** Options of the circular block bootstrap. */
export interface BlockBootstrapOptions extends BootstrapOptions {
  /** Steps per block, an integer in [1, n]; e.g. politisWhiteBlockLength(series). 1 is the i.i.d. bootstrap. */
  blockLength: number;
}

/**
 * Circular block bootstrap (Politis & Romano 1992): lay the series on a circle, draw ceil(n / l) blocks of
 * l consecutive steps starting at uniform positions (a block that runs past the end continues at the start),
 * concatenate them, cut to n, and compute `statFn`; the interval is the percentile interval of those
 * statistics. Blocks keep the correlation between neighbouring steps (an i.i.d. resample would ignore it and
 * give too narrow an interval). Circular rather than moving blocks: with moving blocks (Kuensch 1989) the
 * first and last l - 1 steps fall in fewer blocks than the others, so the resamples under-weight the ends of
 * the run (and a slow drift over the run biases the resampled statistic); on the circle every step is drawn
 * equally often. Rather than non-overlapping windows (bootstrapWindowsCI): blocks may start anywhere, so
 * the resamples vary more finely and short series get usable intervals.
 */
export function circularBlockBootstrapCI<T>(
  series: readonly T[],
  statFn: (sample: readonly T[]) => number,
  options: BlockBootstrapOptions,
): ConfidenceInterval {
  const { iterations, confidence } = bootstrapSettings(options);
  const n = series.length;
  const l = options.blockLength;
  if (n === 0) throw new UsageError('block bootstrap needs at least one step, got an empty series');
  if (!Number.isInteger(l) || l < 1 || l > n) {
    throw new UsageError(`block length must be an integer in [1, ${n}] (the series length), got ${l}`);
  }
  const stats: number[] = [];
  const resample = new Array<T>(n);
  for (let it = 0; it < iterations; it++) {
    for (let filled = 0; filled < n; ) {
      const start = options.rng.randInt(n);
      for (let j = 0; j < l && filled < n; j++) resample[filled++] = series[(start + j) % n] as T;
    }
    stats.push(statFn(resample));
  }
  return percentileInterval(statFn(series), stats, confidence, options.keepInfinite);
}

/** Sample autocovariances R(k) = (1/n) sum_t (x_t - mean)(x_{t+k} - mean) for k = 0..maxLag. */
function autocovariances(series: readonly number[], maxLag: number): number[] {
  const m = mean(series);
  const n = series.length;
  const out: number[] = [];
  for (let k = 0; k <= maxLag; k++) {
    let s = 0;
    for (let t = 0; t + k < n; t++) s += ((series[t] as number) - m) * ((series[t + k] as number) - m);
    out.push(s / n);
  }
  return out;
}

/** Flat-top lag window of Politis & Romano (1995): 1 up to |t| = 1/2, then linear down to 0 at |t| = 1. */
function flatTop(t: number): number {
  const a = Math.abs(t);
  return a <= 0.5 ? 1 : a <= 1 ? 2 * (1 - a) : 0;
}

/**
 * Automatic block length for the circular block bootstrap (Politis & White 2004, with the correction of
 * Patton, Politis & White 2009): l = (2 G^2 / D)^(1/3) n^(1/3), the rate n^(1/3) that minimizes the mean
 * squared error of the bootstrap variance (Hall, Horowitz & Jing 1995) with a constant estimated from the
 * series: G = sum_k lambda(k/M) |k| R(k), D = (4/3) g0^2, g0 = sum_k lambda(k/M) R(k) (k from -M to M, R the
 * autocovariances, lambda the flat-top window). M = 2 m, where m is the first lag after which K = max(5,
 * sqrt(log10 n)) autocorrelations in a row are below 2 sqrt(log10 n / n) (insignificant at about 95%).
 * No autocorrelation gives 1 (the i.i.d. bootstrap); the result is capped at min(3 sqrt(n), n / 3).
 */
export function politisWhiteBlockLength(series: readonly number[]): number {
  requireFinite(series, 'block length');
  const n = series.length;
  if (n < 4) return 1;
  const kn = Math.max(5, Math.ceil(Math.sqrt(Math.log10(n))));
  const maxLag = Math.min(n - 1, Math.ceil(Math.sqrt(n)) + kn);
  const r = autocovariances(series, maxLag);
  const r0 = r[0] as number;
  if (r0 === 0) return 1; // a constant series: nothing to keep together
  const bound = 2 * Math.sqrt(Math.log10(n) / n);
  let m = maxLag - kn;
  for (let lag = 0; lag <= maxLag - kn; lag++) {
    let quiet = true;
    for (let k = 1; k <= kn; k++) if (Math.abs((r[lag + k] as number) / r0) >= bound) quiet = false;
    if (quiet) {
      m = lag;
      break;
    }
  }
  const bigM = Math.min(2 * m, maxLag);
  let g = 0;
  let g0 = r0;
  for (let k = 1; k <= bigM; k++) {
    const w = flatTop(k / bigM) * (r[k] as number);
    g += 2 * k * w;
    g0 += 2 * w;
  }
  const d = (4 / 3) * g0 * g0;
  const cap = Math.max(1, Math.ceil(Math.min(3 * Math.sqrt(n), n / 3)));
  if (!(d > 0) || g === 0) return 1;
  const l = Math.ceil(((2 * g * g) / d) ** (1 / 3) * n ** (1 / 3));
  return Math.min(cap, Math.max(1, l));
}

/**
 * The block length the run-level intervals use: max(ceil(n^(1/3)), politisWhiteBlockLength(series)).
 * n^(1/3) is the rate of the MSE-optimal block length (Hall, Horowitz & Jing 1995), here with constant 1 as a
 * floor: the Politis-White constant comes from estimated autocorrelations, which on a few hundred steps
 * often fall under its significance bound by chance and give blocks of 1-2 steps, and then intervals that
 * are too narrow (measured: with blocks chosen on 1{t <= median}, the median of 500 steps of an AR(1) series
 * with rho = 0.3 was covered 88% of the time at a nominal 95%).
 */
export function blockLengthFor(series: readonly number[]): number {
  return Math.min(series.length, Math.max(Math.ceil(series.length ** (1 / 3)), politisWhiteBlockLength(series)));
}
