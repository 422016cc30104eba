import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lrAt, roundBatch, scaleLr, type LrScheduleOptions } from './lr.js';
import { BatchlabError } from './errors.js';

const close = (actual: number, expected: number, tol = 1e-12, msg = ''): void =>
  assert.ok(Math.abs(actual - expected) <= tol, `${msg} expected ${expected}, got ${actual}`);

test('scaleLr: fixed, linear, sqrt', () => {
  const base = { baseLr: 0.1, baseBatch: 256 };
  assert.equal(scaleLr({ rule: 'fixed', ...base, batch: 1024 }), 0.1);
  close(scaleLr({ rule: 'linear', ...base, batch: 1024 }), 0.4); // Goyal: k x batch -> k x lr
  close(scaleLr({ rule: 'linear', ...base, batch: 64 }), 0.025);
  close(scaleLr({ rule: 'sqrt', ...base, batch: 1024 }), 0.2); // sqrt(4) = 2
  close(scaleLr({ rule: 'sqrt', ...base, batch: 64 }), 0.05);
  assert.throws(
    () => scaleLr({ rule: 'cubic' as never, ...base, batch: 64 }),
    /unknown LR scaling rule "cubic"; valid .*fixed, linear, sqrt/,
  );
  assert.throws(() => scaleLr({ rule: 'linear', ...base, batch: 0 }), /batch size must be a positive number, got 0/);
});

test('lrAt: linear warm-up then constant', () => {
  const o: LrScheduleOptions = { kind: 'constant', baseLr: 0.4, warmupSteps: 4, totalSteps: 100 };
  assert.deepEqual(
    [1, 2, 3, 4, 5, 100].map((s) => lrAt(s, o)),
    [0.1, 0.2, 0.30000000000000004, 0.4, 0.4, 0.4],
  );
  assert.equal(lrAt(1, { ...o, warmupSteps: 0 }), 0.4);
  assert.throws(() => lrAt(0, o), /1-based/);
});

test('lrAt: cosine decay hand values', () => {
  const o: LrScheduleOptions = { kind: 'cosine', baseLr: 1, warmupSteps: 10, totalSteps: 110, minLr: 0.1 };
  close(lrAt(10, o), 1); // end of warm-up
  close(lrAt(60, o), 0.1 + 0.9 * 0.5); // p = 0.5: cos(pi/2) = 0
  close(lrAt(35, o), 0.1 + (0.9 * (1 + Math.SQRT1_2)) / 2); // p = 0.25
  close(lrAt(110, o), 0.1); // p = 1
  close(lrAt(500, o), 0.1); // clamped after the end
  close(lrAt(5, o), 0.5); // warm-up half way
  assert.throws(
    () => lrAt(5, { ...o, totalSteps: 10 }),
    /cosine schedule needs total steps \(10\) above the warm-up steps \(10\)/,
  );
});

test('lrAt: step decay hand values and bad schedules', () => {
  const o: LrScheduleOptions = { kind: 'step', baseLr: 1, warmupSteps: 2, totalSteps: 100, stepEvery: 10, gamma: 0.5 };
  assert.equal(lrAt(2, o), 1);
  assert.equal(lrAt(11, o), 1); // t = 9
  assert.equal(lrAt(12, o), 0.5); // t = 10
  assert.equal(lrAt(32, o), 0.125); // t = 30
  assert.throws(() => lrAt(5, { ...o, stepEvery: undefined }), /stepEvery/);
  assert.throws(
    () => lrAt(5, { ...o, kind: 'linear' as never }),
    (e: unknown) =>
      e instanceof BatchlabError && e.code === 'BATCHLAB_UNKNOWN_SCHEDULE' && /constant, cosine, step/.test(e.message),
  );
});

test('roundBatch: power of two, else multiple of 8, else integer, inside the interval', () => {
  assert.deepEqual(roundBatch(100, { ciLow: 64, ciHigh: 200 }).batch, 128); // |ln(128/100)| < |ln(64/100)|
  assert.equal(roundBatch(100, { ciLow: 64, ciHigh: 200 }).rounding, 'power-of-two');
  assert.equal(roundBatch(90, { ciLow: 64, ciHigh: 200 }).batch, 64); // ln(128/90) = 0.352 > ln(90/64) = 0.341
  const m8 = roundBatch(100, { ciLow: 90, ciHigh: 120 });
  assert.deepEqual([m8.batch, m8.rounding], [104, 'multiple-of-8']); // ln(104/100) = 0.039 < ln(100/96) = 0.041
  assert.match(m8.text, /rounded 100 to 104, a multiple of 8 inside \[90, 120\]/);
  const exact = roundBatch(101.4, { ciLow: 100, ciHigh: 102 });
  assert.deepEqual([exact.batch, exact.rounding], [101, 'integer']);
  // The memory ceiling keeps 128 out even though it is inside the interval.
  assert.equal(roundBatch(120, { ciLow: 64, ciHigh: 200, max: 125 }).batch, 64);
  assert.equal(roundBatch(120, { ciLow: 100, ciHigh: 200, max: 125 }).batch, 120);
  // Brute force: the result is always inside the interval when an integer fits in it.
  for (let b = 3; b < 300; b += 7) {
    for (const width of [1.05, 1.3, 2]) {
      const r = roundBatch(b, { ciLow: b / width, ciHigh: b * width });
      if (r.rounding !== 'integer') assert.ok(r.batch >= b / width && r.batch <= b * width, `${b} -> ${r.batch}`);
      if (r.rounding === 'power-of-two') assert.equal(Math.log2(r.batch) % 1, 0);
      if (r.rounding === 'multiple-of-8') assert.equal(r.batch % 8, 0);
    }
  }
});

test('the step schedule decays by a factor in (0, 1]: 1 keeps the LR, 0 and above 1 are refused', () => {
  const o: LrScheduleOptions = { kind: 'step', baseLr: 1, warmupSteps: 0, totalSteps: 100, stepEvery: 10, gamma: 1 };
  assert.equal(lrAt(50, o), 1);
  for (const gamma of [0, -0.5, 1.5, Number.NaN])
    assert.throws(() => lrAt(1, { ...o, gamma }), /--lr-gamma must be in \(0, 1\]/);
});
