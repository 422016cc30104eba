import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRng } from './random.js';
import {
  blockLengthFor,
  bootstrapCI,
  circularBlockBootstrapCI,
  bootstrapWindowsCI,
  ema,
  lossNoise,
  lossNoiseResiduals,
  mean,
  median,
  politisWhiteBlockLength,
  quantile,
  splitWindows,
  std,
  variance,
} from './stats.js';
import { BatchlabError } from './errors.js';

const close = (actual: number, expected: number, tol = 1e-12, msg = ''): void =>
  assert.ok(Math.abs(actual - expected) <= tol, `${msg} expected ${expected}, got ${actual}`);

test('mean, variance, std against hand values', () => {
  assert.equal(mean([1, 2, 3, 4]), 2.5);
  // Squared deviations from 2.5: 2.25 + 0.25 + 0.25 + 2.25 = 5.
  close(variance([1, 2, 3, 4]), 5 / 3);
  close(variance([1, 2, 3, 4], { sample: false }), 5 / 4);
  close(std([2, 4, 4, 4, 5, 5, 7, 9], { sample: false }), 2);
  assert.equal(variance([7]), 0);
  assert.throws(() => mean([]), BatchlabError);
  assert.throws(() => mean([1, Number.NaN]), /NaN at index 1/);
});

test('quantile is type 7 (linear interpolation) and median the middle', () => {
  const x = [3, 1, 4, 1, 5]; // sorted 1 1 3 4 5
  assert.equal(quantile(x, 0), 1);
  assert.equal(quantile(x, 0.25), 1); // h = 1
  close(quantile(x, 0.9), 4.6); // h = 3.6: 4 + 0.6 (5 - 4)
  assert.equal(quantile(x, 1), 5);
  assert.equal(median(x), 3);
  assert.equal(median([1, 2, 3, 4]), 2.5);
  close(quantile([10, 20], 0.3), 13);
  assert.throws(() => quantile(x, 1.5), /quantile level/);
});

test('ema equals the normalized geometric weighted average (bias correction)', () => {
  close(ema([2, 4], 0.5)[1]!, (0.25 * 2 + 0.5 * 4) / 0.75);
  assert.deepEqual(
    ema([5, 5, 5], 0.1).map((v) => +v.toFixed(12)),
    [5, 5, 5],
  );
  close(ema([7], 0.01)[0]!, 7, 1e-12);
  // Brute force: out[t] = sum_i alpha (1-alpha)^(t-i) x_i / sum_i alpha (1-alpha)^(t-i).
  const rng = createRng(9);
  const xs = Array.from({ length: 40 }, () => rng.normal());
  const alpha = 0.2;
  const out = ema(xs, alpha);
  for (let t = 0; t < xs.length; t++) {
    let num = 0;
    let den = 0;
    for (let i = 0; i <= t; i++) {
      const w = alpha * (1 - alpha) ** (t - i);
      num += w * xs[i]!;
      den += w;
    }
    close(out[t]!, num / den, 1e-12, `t=${t}`);
  }
  assert.throws(() => ema([1], 0), /alpha/);
  assert.throws(() => ema([1], 1.5), /alpha/);
});

test('lossNoise is the RMS deviation from the two-sided (zero-lag) EMA', () => {
  // alpha = 0.5 on [1, 3, 2]: forward EMA f = [1, 7/3, 15/7]; backward EMA over [2, 3, 1] = [2, 8/3, 12/7],
  // reversed b = [12/7, 8/3, 2]; s = [(1 + 12/7)/2, (7/3 + 8/3)/2, (15/7 + 2)/2] = [19/14, 5/2, 29/14].
  const r = [1 - 19 / 14, 3 - 5 / 2, 2 - 29 / 14];
  close(lossNoise([1, 3, 2], 0.5), Math.sqrt(r.reduce((a, x) => a + x * x, 0) / 3));
  close(lossNoise([4, 4, 4, 4], 0.3), 0, 1e-12);
  assert.throws(() => lossNoise([1], 0.1), /at least 2/);
});

test('lossNoise ignores a steady trend but sees the noise around it', () => {
  const trend = Array.from({ length: 400 }, (_, i) => 2 - 0.004 * i);
  // A one-sided EMA with alpha 0.05 trails this slope by ~0.08 at every step; the two-sided one only near
  // the two ends, where one side's average is short (measured: 0.011 RMS over the whole series).
  assert.ok(lossNoise(trend, 0.05) < 0.02, `trend only: ${lossNoise(trend, 0.05)}`);
  const rng = createRng(5);
  const noisy = trend.map((x) => x + 0.1 * rng.normal());
  const got = lossNoise(noisy, 0.05);
  // Residuals around a ~20-step average keep most of white noise of std 0.1.
  assert.ok(got > 0.08 && got < 0.11, `noise std 0.1 measured as ${got}`);
});

test('bootstrapCI of the mean matches the normal-theory interval and is reproducible', () => {
  const data = createRng(21);
  const n = 400;
  const xs = Array.from({ length: n }, () => 10 + 2 * data.normal());
  const ci = bootstrapCI(xs, mean, { iterations: 2000, confidence: 0.9, rng: createRng(1) });
  const again = bootstrapCI(xs, mean, { iterations: 2000, confidence: 0.9, rng: createRng(1) });
  assert.deepEqual(ci, again);
  assert.equal(ci.estimate, mean(xs));
  // Normal theory: half width = 1.645 s / sqrt(n) (bootstrap uses the population variance of the data).
  const half = (1.6449 * std(xs, { sample: false })) / Math.sqrt(n);
  close((ci.high - ci.low) / 2, half, 0.1 * half, 'half width');
  close((ci.high + ci.low) / 2, ci.estimate, 0.1 * half, 'centre');
  assert.equal(ci.iterations, 2000);
  assert.equal(ci.dropped, 0);
  const flat = bootstrapCI([3, 3, 3], mean, { rng: createRng(2) });
  assert.deepEqual([flat.low, flat.high], [3, 3]);
});

test('bootstrapCI drops and counts non-finite statistics', () => {
  const ci = bootstrapCI([0, 1], (s) => 1 / mean(s), { iterations: 400, rng: createRng(3) });
  // Resample {0, 0} (probability 1/4) gives 1/0 = Infinity and is dropped.
  assert.equal(ci.iterations + ci.dropped, 400);
  assert.ok(ci.dropped > 60 && ci.dropped < 140, `dropped ${ci.dropped}`);
});

test('splitWindows cuts floor(w n / W) boundaries', () => {
  const xs = Array.from({ length: 10 }, (_, i) => i);
  assert.deepEqual(splitWindows(xs, 3), [
    [0, 1, 2],
    [3, 4, 5],
    [6, 7, 8, 9],
  ]);
  assert.throws(() => splitWindows(xs, 11), /window count/);
});

test('bootstrapWindowsCI with one step per window is the i.i.d. bootstrap', () => {
  const xs = [1, 5, 2, 8, 3, 9, 4];
  const a = bootstrapWindowsCI(xs, mean, { windows: xs.length, iterations: 300, rng: createRng(5) });
  const b = bootstrapCI(xs, mean, { iterations: 300, rng: createRng(5) });
  assert.deepEqual(a, b);
});

test('bootstrapWindowsCI widens the interval for a correlated AR(1) series to the long-run SE', () => {
  // x_t = phi x_{t-1} + e_t, e_t ~ N(0,1): SE of the mean ~ 1/((1 - phi) sqrt(n)) (long-run variance),
  // while the i.i.d. bootstrap sees only Var x = 1/(1 - phi^2).
  const phi = 0.9;
  const n = 20_000;
  const rng = createRng(17);
  const xs: number[] = [];
  let x = 0;
  for (let t = 0; t < n; t++) {
    x = phi * x + rng.normal();
    xs.push(x);
  }
  const win = bootstrapWindowsCI(xs, mean, { windows: 50, iterations: 600, confidence: 0.9, rng: createRng(2) });
  const iid = bootstrapCI(xs, mean, { iterations: 600, confidence: 0.9, rng: createRng(2) });
  const longRunHalf = (1.6449 * (1 / (1 - phi))) / Math.sqrt(n);
  const iidHalf = (1.6449 * Math.sqrt(1 / (1 - phi * phi))) / Math.sqrt(n);
  close((win.high - win.low) / 2, longRunHalf, 0.3 * longRunHalf, 'window half width');
  close((iid.high - iid.low) / 2, iidHalf, 0.15 * iidHalf, 'iid half width');
});

test('keepInfinite keeps infinite statistics so the interval end can be Infinity', () => {
  // 1/mean over resamples of [0, 1]: P(both 0) = 1/4 gives Infinity; P(both 1) = 1/4 gives 1;
  // mixed resamples (1/2) give 2. The 90% interval is then [1, Infinity].
  const ci = bootstrapCI([0, 1], (s) => 1 / mean(s), { iterations: 2000, rng: createRng(3), keepInfinite: true });
  assert.equal(ci.dropped, 0);
  assert.equal(ci.low, 1);
  assert.equal(ci.high, Number.POSITIVE_INFINITY);
  assert.equal(quantile([1, 2], 0.5), 1.5);
});

test('circular block bootstrap: blocks as long as the series only rotate it; blocks of 1 are the i.i.d. bootstrap', () => {
  const rng = createRng(4);
  const xs = Array.from({ length: 50 }, () => rng.normal());
  // A rotation keeps the mean: every resample has the sample mean, so the interval is a point.
  const whole = circularBlockBootstrapCI(xs, mean, { rng, blockLength: 50, iterations: 200, confidence: 0.9 });
  close(whole.low, mean(xs), 1e-12);
  close(whole.high, mean(xs), 1e-12);
  // Blocks of 1: the normal-theory width 2 z s / sqrt(n) within 15%.
  const iid = circularBlockBootstrapCI(xs, mean, { rng, blockLength: 1, iterations: 4000, confidence: 0.9 });
  const normalWidth = (2 * 1.6448536 * std(xs, { sample: false })) / Math.sqrt(50);
  close((iid.high - iid.low) / normalWidth, 1, 0.15, 'width ratio');
  assert.throws(
    () => circularBlockBootstrapCI(xs, mean, { rng, blockLength: 51 }),
    /block length must be an integer in \[1, 50\]/,
  );
});

test('circular block bootstrap widens the interval of a correlated series (AR(1), rho = 0.8) to the long-run SE', () => {
  // Long-run variance of the mean of an AR(1) series: sigma^2 (1 + rho) / (1 - rho) / n for unit marginal variance.
  const rng = createRng(21);
  const rho = 0.8;
  const n = 2000;
  const xs: number[] = [];
  let z = rng.normal();
  for (let t = 0; t < n; t++) {
    z = rho * z + Math.sqrt(1 - rho * rho) * rng.normal();
    xs.push(z);
  }
  const l = politisWhiteBlockLength(xs);
  assert.ok(l >= 8 && l <= 60, `a strongly correlated series asks for long blocks, got ${l}`);
  const ci = circularBlockBootstrapCI(xs, mean, { rng, blockLength: l, iterations: 2000, confidence: 0.9 });
  const longRunWidth = 2 * 1.6448536 * Math.sqrt((1 + rho) / (1 - rho) / n);
  close((ci.high - ci.low) / longRunWidth, 1, 0.2, 'width / long-run width');
});

test('block length: 1 for independent steps, a floor of n^(1/3) in blockLengthFor, 1 for a constant series', () => {
  const rng = createRng(8);
  const iid = Array.from({ length: 1000 }, () => rng.normal());
  assert.ok(politisWhiteBlockLength(iid) <= 2, `independent steps, got ${politisWhiteBlockLength(iid)}`);
  assert.equal(blockLengthFor(iid), 10); // ceil(1000^(1/3))
  assert.equal(politisWhiteBlockLength(new Array(100).fill(3)), 1);
  assert.equal(blockLengthFor([1, 2]), 2);
});

test('lossNoise is the RMS of lossNoiseResiduals', () => {
  const losses = [3, 2.5, 2.6, 2.1, 2.2, 1.8, 1.9];
  const r = lossNoiseResiduals(losses, 0.3);
  assert.equal(r.length, losses.length);
  close(lossNoise(losses, 0.3), Math.sqrt(r.reduce((a, x) => a + x * x, 0) / r.length), 1e-15);
});
