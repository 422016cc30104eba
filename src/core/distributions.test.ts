import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  logGamma,
  normalCdf,
  normalQuantile,
  regularizedBeta,
  regularizedGammaQ,
  studentTCdf,
  studentTQuantile,
  tIntervalFromSe,
  tTestPower,
} from './distributions.js';
import { BatchlabError } from './errors.js';

const close = (actual: number, expected: number, tol: number, msg = ''): void =>
  assert.ok(Math.abs(actual - expected) <= tol, `${msg} expected ${expected}, got ${actual}`);

test('logGamma against factorials and Gamma(1/2) = sqrt(pi)', () => {
  close(logGamma(1), 0, 1e-14);
  close(logGamma(10), Math.log(362880), 1e-12);
  close(logGamma(0.5), 0.5 * Math.log(Math.PI), 1e-14);
  close(logGamma(0.1), Math.log(9.513507698668732), 1e-13); // Gamma(0.1), A&S table 6.1
  assert.throws(() => logGamma(0), BatchlabError);
});

test('incomplete gamma and beta against closed forms', () => {
  // Q(1, x) = e^-x; I_x(a, 1) = x^a; I_x(1, b) = 1 - (1 - x)^b.
  for (const x of [0.1, 1, 3, 20]) close(regularizedGammaQ(1, x), Math.exp(-x), 1e-14 * Math.max(1, Math.exp(-x)));
  close(regularizedBeta(0.3, 2.5, 1), 0.3 ** 2.5, 1e-14);
  close(regularizedBeta(0.7, 1, 4), 1 - 0.3 ** 4, 1e-14);
  close(regularizedBeta(0.5, 3, 3), 0.5, 1e-14); // symmetric
});

test('normal cdf and quantile against tabulated values', () => {
  close(normalCdf(0), 0.5, 1e-15);
  close(normalCdf(1.959963984540054), 0.975, 1e-14);
  close(normalCdf(-8), 6.22096057427178e-16, 1e-28); // the far tail keeps its digits
  const table: [number, number][] = [
    [0.5, 0],
    [0.8, 0.8416212335729143],
    [0.95, 1.6448536269514722],
    [0.975, 1.959963984540054],
    [0.995, 2.5758293035489004],
    [1e-10, -6.361340902404056],
  ];
  for (const [p, z] of table) close(normalQuantile(p), z, 1e-12, `z(${p})`);
  assert.throws(() => normalQuantile(1), /strictly between 0 and 1/);
});

test('Student-t quantiles match the printed table (Fisher & Yates; 3 decimals)', () => {
  // Rows: df -> [t_0.95, t_0.975, t_0.995].
  const table: Record<number, [number, number, number]> = {
    1: [6.314, 12.706, 63.657],
    2: [2.92, 4.303, 9.925],
    3: [2.353, 3.182, 5.841],
    4: [2.132, 2.776, 4.604],
    5: [2.015, 2.571, 4.032],
    10: [1.812, 2.228, 3.169],
    12: [1.782, 2.179, 3.055],
    17: [1.74, 2.11, 2.898],
    30: [1.697, 2.042, 2.75],
    120: [1.658, 1.98, 2.617],
  };
  for (const [df, row] of Object.entries(table)) {
    [0.95, 0.975, 0.995].forEach((p, i) =>
      close(studentTQuantile(p, Number(df)), row[i] as number, 5e-4, `t(${p}, ${df})`),
    );
  }
  close(studentTQuantile(0.975, Number.POSITIVE_INFINITY), 1.959963984540054, 1e-12);
});

test('Student-t quantile is exact: closed forms for df 1 and 2, and the inverse of the cdf', () => {
  for (const p of [0.001, 0.1, 0.6, 0.975, 0.9999]) {
    close(
      studentTQuantile(p, 1),
      Math.tan(Math.PI * (p - 0.5)),
      1e-9 * Math.abs(Math.tan(Math.PI * (p - 0.5))) + 1e-12,
    );
    close(studentTQuantile(p, 2), (2 * p - 1) / Math.sqrt(2 * p * (1 - p)), 1e-12);
    for (const df of [3, 7, 17, 200]) close(studentTCdf(studentTQuantile(p, df), df), p, 1e-13, `cdf(q(${p}, ${df}))`);
  }
  // Tabulated to 10 digits (R qt): qt(0.975, 17) and qt(0.025, 5).
  close(studentTQuantile(0.975, 17), 2.109815577833, 1e-11);
  close(studentTQuantile(0.025, 5), -2.570581835636, 1e-11);
  // The cdf at a point, against the df = 1 closed form 1/2 + atan(t)/pi.
  close(studentTCdf(-3.1, 1), 0.5 + Math.atan(-3.1) / Math.PI, 1e-14);
});

test('t-test power is the noncentral t tail (R: power.t.test and pt with ncp)', () => {
  // 1 - pt(qt(.975, df), df, ncp = 3) + pt(-qt(.975, df), df, ncp = 3).
  close(tTestPower({ delta: 3, df: 17, confidence: 0.95 }), 0.8070464158, 1e-6);
  close(tTestPower({ delta: 3, df: 12, confidence: 0.95 }), 0.7862876836, 1e-6);
  close(tTestPower({ delta: 3, df: 5, confidence: 0.95 }), 0.6721758815, 1e-6);
  close(tTestPower({ delta: 3, df: 1, confidence: 0.95 }), 0.1861320616, 1e-6);
  // delta = 0: the false-claim rate is exactly 1 - confidence.
  close(tTestPower({ delta: 0, df: 17, confidence: 0.95 }), 0.05, 1e-7);
  close(tTestPower({ delta: 3, df: Number.POSITIVE_INFINITY, confidence: 0.95 }), 0.8508387684, 1e-9);
});
test('tIntervalFromSe: t quantile times the standard error, normal for known se', () => {
  const ci = tIntervalFromSe(10, 2, 4, 0.95);
  close(ci.low, 10 - 2.7764 * 2, 1e-3);
  close(ci.high, 10 + 2.7764 * 2, 1e-3);
  const z = tIntervalFromSe(0, 1, Number.POSITIVE_INFINITY, 0.9);
  close(z.high, 1.644853627, 1e-8);
  assert.equal(tIntervalFromSe(3, 0, 2, 0.9).low, 3);
  assert.throws(() => tIntervalFromSe(0, 1, 3, 1), /confidence/);
});
