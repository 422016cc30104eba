import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitLine, predictLine } from './fit.js';
import { createRng } from './random.js';

const close = (actual: number, expected: number, tol = 1e-9, msg = ''): void =>
  assert.ok(Math.abs(actual - expected) <= tol, `${msg} expected ${expected}, got ${actual}`);

test('exact data on a line is recovered with R^2 = 1', () => {
  const xs = [16, 32, 64, 128, 256];
  const ys = xs.map((x) => 1_000_000 + 4096 * x);
  const fit = fitLine(xs, ys);
  close(fit.intercept, 1_000_000, 1e-6);
  close(fit.slope, 4096, 1e-9);
  close(fit.r2, 1, 1e-12);
  assert.equal(fit.n, 5);
  close(fit.residualStd, 0, 1e-6);
  close(predictLine(fit, 512), 1_000_000 + 4096 * 512, 1e-6);
});

test('hand-computed fit: (0,1) (1,3) (2,2)', () => {
  // xbar = 1, ybar = 2, Sxx = 2, Sxy = (-1)(-1) + 0 + (1)(0) = 1 -> b = 0.5, a = 1.5.
  // Residuals: 1 - 1.5 = -0.5, 3 - 2 = 1, 2 - 2.5 = -0.5 -> SS_res = 1.5; SS_tot = 1 + 1 + 0 = 2.
  const fit = fitLine([0, 1, 2], [1, 3, 2]);
  close(fit.slope, 0.5);
  close(fit.intercept, 1.5);
  close(fit.r2, 1 - 1.5 / 2);
  close(fit.residualStd, Math.sqrt(1.5 / 1));
});

test('weighted fit equals the unweighted fit on points repeated w times', () => {
  const rng = createRng(4);
  const xs = Array.from({ length: 8 }, (_, i) => i + 1);
  const ys = xs.map((x) => 3 - 2 * x + rng.normal());
  const weights = [1, 3, 2, 1, 4, 1, 2, 5];
  const rx: number[] = [];
  const ry: number[] = [];
  xs.forEach((x, i) => {
    for (let k = 0; k < weights[i]!; k++) {
      rx.push(x);
      ry.push(ys[i]!);
    }
  });
  const weighted = fitLine(xs, ys, { weights });
  const repeated = fitLine(rx, ry);
  close(weighted.slope, repeated.slope, 1e-12);
  close(weighted.intercept, repeated.intercept, 1e-12);
  close(weighted.r2, repeated.r2, 1e-12);
  // A zero weight removes the point.
  const dropped = fitLine([1, 2, 3, 100], [1, 2, 3, -50], { weights: [1, 1, 1, 0] });
  close(dropped.slope, 1);
  assert.equal(dropped.n, 3);
});

test('noisy data: slope within its standard error of the truth', () => {
  const rng = createRng(8);
  const xs = Array.from({ length: 200 }, (_, i) => i / 10);
  const ys = xs.map((x) => 5 + 0.7 * x + 0.5 * rng.normal());
  const fit = fitLine(xs, ys);
  // SE(b) = sigma / sqrt(Sxx); Sxx = n Var(x) ~ 200 * 33.3.
  const se = 0.5 / Math.sqrt(200 * 33.3);
  close(fit.slope, 0.7, 4 * se, 'slope');
  close(fit.residualStd, 0.5, 0.1, 'residual std');
  assert.ok(fit.r2 > 0.9 && fit.r2 < 1);
});

test('fewer than 2 distinct x, mismatched or non-finite inputs throw', () => {
  assert.throws(() => fitLine([64, 64, 64], [1, 2, 3]), /at least 2 distinct x values, got 1 \(x = 64\)/);
  assert.throws(() => fitLine([1], [1]), /2 distinct/);
  assert.throws(() => fitLine([1, 2], [1]), /as many y values/);
  assert.throws(() => fitLine([1, 2], [1, Number.NaN]), /finite/);
  assert.throws(() => fitLine([1, 2], [1, 2], { weights: [1, -1] }), /weights/);
  const flat = fitLine([1, 2, 3], [4, 4, 4]);
  assert.equal(flat.r2, 1);
  assert.equal(flat.slope, 0);
});
