import assert from 'node:assert/strict';
import { test } from 'node:test';
import { duration, mb, num, pct, plusMinus, points, ratio } from './format.js';

test('num: thousands separated from 1000 up, significant digits below, "-" for not measured', () => {
  assert.equal(num(12345.6), '12,346');
  assert.equal(num(-1000), '-1,000');
  assert.equal(num(999.49), '999');
  assert.equal(num(0.000123456), '0.000123');
  assert.equal(num(97.3456, 4), '97.35');
  assert.equal(num(undefined), '-');
  assert.equal(num(null), '-');
  assert.equal(num(Number.NaN), '-');
  assert.equal(num(Number.POSITIVE_INFINITY), 'Infinity');
});

test('pct, duration, mb and ratio', () => {
  assert.equal(pct(0.9734), '97.34%');
  assert.equal(pct(undefined), '-');
  assert.equal(duration(850), '850 ms');
  assert.equal(duration(12_340), '12.3 s');
  assert.equal(duration(245_000), '4 min 05 s');
  assert.equal(mb(1_250_000), '1.3');
  assert.equal(mb(undefined), '-');
  assert.equal(ratio(5, 2), '2.5x');
});

test('plusMinus: the value and the half-width of its interval; the value alone without one', () => {
  assert.equal(plusMinus({ estimate: 0.9691, low: 0.9657, high: 0.9725 }, points, '%'), '96.91% \u00b10.34');
  assert.equal(plusMinus({ estimate: 1.234, low: 1.2, high: 1.3 }), '1.23 \u00b10.05');
  assert.equal(plusMinus({ estimate: 1.234 }), '1.23');
  assert.equal(
    plusMinus({ estimate: 2, low: 1, high: Number.POSITIVE_INFINITY }),
    '2',
    'an unbounded interval is not printed',
  );
});
