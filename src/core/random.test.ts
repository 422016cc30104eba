import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRng, shuffleInPlace } from './random.js';

test('same seed gives the same stream, different seeds differ', () => {
  const a = createRng(42);
  const b = createRng(42);
  const c = createRng(43);
  const xa = Array.from({ length: 100 }, () => a.uniform());
  const xb = Array.from({ length: 100 }, () => b.uniform());
  const xc = Array.from({ length: 100 }, () => c.uniform());
  assert.deepEqual(xa, xb);
  assert.notDeepEqual(xa, xc);
  // No two of the 100 outputs of one stream coincide (a stuck generator would repeat).
  assert.equal(new Set(xa).size, 100);
});

test('uniform has mean 1/2 and variance 1/12 within 4 standard errors', () => {
  const rng = createRng(1);
  const n = 200_000;
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const u = rng.uniform();
    assert.ok(u >= 0 && u < 1);
    s += u;
    s2 += u * u;
  }
  const m = s / n;
  const v = s2 / n - m * m;
  // SE of the mean = sqrt(1/12 / n) ~ 6.5e-4; SE of the variance ~ sqrt(1/180 / n) ~ 1.7e-4.
  assert.ok(Math.abs(m - 0.5) < 4 * Math.sqrt(1 / 12 / n), `mean ${m}`);
  assert.ok(Math.abs(v - 1 / 12) < 4 * Math.sqrt(1 / 180 / n), `variance ${v}`);
});

test('normal has mean 0, variance 1, and P(|z| < 1.96) ~ 0.95', () => {
  const rng = createRng(7);
  const n = 200_000;
  let s = 0;
  let s2 = 0;
  let inside = 0;
  for (let i = 0; i < n; i++) {
    const z = rng.normal();
    s += z;
    s2 += z * z;
    if (Math.abs(z) < 1.959964) inside++;
  }
  const m = s / n;
  const v = s2 / n - m * m;
  assert.ok(Math.abs(m) < 4 / Math.sqrt(n), `mean ${m}`);
  // Var of z^2 is 2, so SE of the variance ~ sqrt(2 / n).
  assert.ok(Math.abs(v - 1) < 4 * Math.sqrt(2 / n), `variance ${v}`);
  assert.ok(Math.abs(inside / n - 0.95) < 4 * Math.sqrt((0.95 * 0.05) / n), `coverage ${inside / n}`);
});

test('randInt(n) covers [0, n) evenly (chi-square) and rejects bad n', () => {
  const rng = createRng(3);
  const n = 7;
  const draws = 70_000;
  const counts = new Array<number>(n).fill(0);
  for (let i = 0; i < draws; i++) {
    const k = rng.randInt(n);
    assert.ok(Number.isInteger(k) && k >= 0 && k < n);
    counts[k]!++;
  }
  const expected = draws / n;
  const chi2 = counts.reduce((acc, c) => acc + (c - expected) ** 2 / expected, 0);
  // chi-square with 6 degrees of freedom: P(chi2 > 22.46) = 0.001.
  assert.ok(chi2 < 22.46, `chi2 ${chi2}, counts ${counts.join(',')}`);
  assert.throws(() => rng.randInt(0), /randInt/);
  assert.throws(() => rng.randInt(2.5), /randInt/);
  assert.throws(() => createRng(Number.NaN), /seed/);
});

test('shuffleInPlace gives each of the 3! permutations with probability 1/6', () => {
  const rng = createRng(11);
  const trials = 60_000;
  const counts = new Map<string, number>();
  for (let i = 0; i < trials; i++) {
    const key = shuffleInPlace(['a', 'b', 'c'], rng).join('');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  assert.equal(counts.size, 6);
  const expected = trials / 6;
  const chi2 = [...counts.values()].reduce((acc, c) => acc + (c - expected) ** 2 / expected, 0);
  // chi-square with 5 degrees of freedom: P(chi2 > 20.52) = 0.001.
  assert.ok(chi2 < 20.52, `chi2 ${chi2}`);
  // A shuffle keeps the multiset.
  const arr = Array.from({ length: 50 }, (_, i) => i);
  shuffleInPlace(arr, rng);
  assert.deepEqual(
    [...arr].sort((x, y) => x - y),
    Array.from({ length: 50 }, (_, i) => i),
  );
});
