import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalCdf, normalQuantile, studentTCdf, studentTQuantile, tInterval } from './distributions.js';
import { BatchlabError } from './errors.js';

const close = (actual: number, expected: number, tol: number, msg = ''): void =>
  assert.ok(Math.abs(actual - expected) <= tol, `${msg} expected ${expected} +- ${tol}, got ${actual}`);

test('normal quantile and distribution function against table values', () => {
  close(normalQuantile(0.975), 1.959963985, 1e-8);
  close(normalQuantile(0.95), 1.644853627, 1e-8);
  close(normalQuantile(0.5), 0, 1e-12);
  close(normalQuantile(0.001), -3.090232306, 1e-7); // tail branch
  close(normalQuantile(0.999), 3.090232306, 1e-7);
  close(normalCdf(1.959963985), 0.975, 1e-7);
  close(normalCdf(-1), 0.158655254, 1e-7);
  for (const p of [0.01, 0.2, 0.5, 0.7, 0.99]) close(normalCdf(normalQuantile(p)), p, 2e-7, `round trip ${p}`);
  assert.throws(() => normalQuantile(0), BatchlabError);
  assert.throws(() => normalQuantile(1), /probability in \(0, 1\)/);
});

test('Student t quantiles match the printed table (two-sided 95% and 90%)', () => {
  const table: [number, number, number][] = [
    [0.975, 1, 12.7062],
    [0.975, 2, 4.3027],
    [0.975, 5, 2.5706],
    [0.975, 10, 2.2281],
    [0.975, 30, 2.0423],
    [0.95, 2, 2.92],
    [0.95, 6, 1.9432],
    [0.95, 120, 1.6577],
  ];
  for (const [p, df, t] of table) close(studentTQuantile(p, df), t, 1e-4, `t(${p}, ${df})`);
  close(studentTQuantile(0.025, 5), -2.5706, 1e-4);
  close(studentTQuantile(0.975, 1e6), normalQuantile(0.975), 1e-5, 'large df tends to normal');
  close(studentTCdf(0, 3), 0.5, 1e-15);
  close(studentTCdf(2.2281, 10), 0.975, 1e-5);
  close(studentTQuantile(0.9, 3.5), -studentTQuantile(0.1, 3.5), 1e-12, 'fractional df, symmetric');
  assert.throws(() => studentTQuantile(0.9, 0), /degrees of freedom/);
});

test('tInterval: t quantile times the standard error, normal for known se', () => {
  const ci = tInterval(10, 2, 4, 0.95);
  close(ci.low, 10 - 2.7764 * 2, 1e-3);
  close(ci.high, 10 + 2.7764 * 2, 1e-3);
  const z = tInterval(0, 1, Number.POSITIVE_INFINITY, 0.9);
  close(z.high, 1.644853627, 1e-8);
  assert.equal(tInterval(3, 0, 2, 0.9).low, 3);
  assert.throws(() => tInterval(0, 1, 3, 1), /confidence/);
});
