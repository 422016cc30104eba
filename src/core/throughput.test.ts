import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  batchWorthUsing,
  fitStepTime,
  predictStepMs,
  samplesPerSec,
  saturationBatch,
  saturationBatchFromFit,
  stepTimeStats,
  type TimedProbe,
} from './throughput.js';

const close = (actual: number, expected: number, tol: number, msg = ''): void =>
  assert.ok(Math.abs(actual - expected) <= tol, `${msg} expected ${expected} +- ${tol}, got ${actual}`);

test('stepTimeStats excludes warm-up and gives median and type-7 p90', () => {
  const s = stepTimeStats([100, 50, 10, 12, 11, 13, 14], { warmupSteps: 2 });
  assert.equal(s.medianMs, 12);
  close(s.p90Ms, 13.6, 1e-12); // sorted 10..14, h = 3.6
  assert.equal(s.n, 5);
  assert.equal(s.excluded, 2);
  assert.throws(() => stepTimeStats([5, 6], { warmupSteps: 2 }), /after the 2 warm-up steps, got 2 steps/);
});

test('exact t(B) = 20 + 0.1 B: fit, samples/s and saturation vs brute force', () => {
  const alpha = 20;
  const beta = 0.1;
  const batches = [8, 16, 32, 64, 128, 256, 512, 1024, 2048];
  const points = batches.map((b) => ({ batchSize: b, stepMs: alpha + beta * b }));
  const fit = fitStepTime(points);
  close(fit.alphaMs, alpha, 1e-9);
  close(fit.betaMsPerSample, beta, 1e-12);
  close(predictStepMs(fit, 100), 30, 1e-9);
  assert.equal(samplesPerSec(100, 30), 100_000 / 30);
  // Closed form: gain alpha / (alpha + 2 beta B) < 0.1  <=>  B > 0.9 * 20 / (0.2 * 0.1) = 900.
  close(saturationBatchFromFit(fit, 0.1)!, 900, 1e-6);
  // Brute force over the measured grid with the throughput definition.
  const bruteForce = batches.find((b) => {
    const T = (x: number) => (1000 * x) / (alpha + beta * x);
    return T(2 * b) / T(b) - 1 < 0.1;
  });
  const sat = saturationBatch(points, { gainThreshold: 0.1 });
  assert.equal(bruteForce, 1024);
  assert.equal(sat?.batchSize, 1024);
  assert.equal(sat?.basis, 'measured'); // 2048 was measured
  close(sat!.gain, alpha / (alpha + 2 * beta * 1024), 1e-9);
  // With a 30% threshold: B > 0.7 * 20 / (0.6 * 0.1) = 233.3 -> 256.
  assert.equal(saturationBatch(points, { gainThreshold: 0.3 })?.batchSize, 256);
});

test('the largest measured B is judged on the fitted model', () => {
  const points = [64, 128, 256].map((b) => ({ batchSize: b, stepMs: 10 + 0.5 * b }));
  // gain at 256 from the model: 10 / (10 + 256) < 0.1, and 128: 10/138 < 0.1, 64: 10/74 > 0.1.
  const sat = saturationBatch(points);
  assert.equal(sat?.batchSize, 128);
  assert.equal(sat?.basis, 'measured');
});

test('"past which": a later doubling that still gains resets the answer; none -> undefined', () => {
  // Measured throughput (samples/s): 64 -> 6400, 128 -> 6600 (+3%), 256 -> 9000 (+36%), 512 -> 9300 (+3%).
  const tp: Record<number, number> = { 64: 6400, 128: 6600, 256: 9000, 512: 9300 };
  const points = Object.entries(tp).map(([b, t]) => ({ batchSize: Number(b), stepMs: (1000 * Number(b)) / t }));
  const sat = saturationBatch(points);
  assert.notEqual(sat?.batchSize, 64, 'a 3% gain at 64 does not count when 256 still gains 36%');
  // 512 uses the fitted model; whatever it says, the answer is 256 or 512 or undefined, never 64/128.
  assert.ok(sat === undefined || sat.batchSize >= 256);
  // Throughput still growing fast everywhere: no saturation.
  const growing = [8, 16, 32, 64].map((b) => ({ batchSize: b, stepMs: 100 + 0.001 * b }));
  assert.equal(saturationBatch(growing), undefined);
  assert.throws(() => saturationBatch(growing, { gainThreshold: 0 }), /threshold/);
  assert.throws(() => saturationBatch([{ batchSize: 8, stepMs: 0 }]), /step time > 0/);
});

test('repeated measurements at a batch size are merged by median', () => {
  const points = [
    { batchSize: 32, stepMs: 30 },
    { batchSize: 32, stepMs: 31 },
    { batchSize: 32, stepMs: 500 }, // outlier
    { batchSize: 64, stepMs: 60 },
  ];
  // Medians: 31 and 60 ms. T(64)/T(32) = (64/60)/(32/31) = 1.0333 -> 3.3% gain < 10%.
  const sat = saturationBatch(points);
  assert.equal(sat?.batchSize, 32);
  close(sat!.gain, 64 / 60 / (32 / 31) - 1, 1e-12);
});

/** Probes of `steps` steps at each batch under t(B) = alpha + beta B, the first step 3x slower (warm-up). */
function probesOf(batches: readonly number[], alpha: number, beta: number, steps = 3): TimedProbe[] {
  return batches.map((b) => ({
    batchSize: b,
    stepMs: Array.from({ length: steps }, (_, i) => (alpha + beta * b) * (i === 0 ? 3 : 1)),
  }));
}

test('the batch worth using: the smallest measured batch within 5% of the best samples/s, warm-up left out', () => {
  // t(B) = 10 + 0.1 B: T(B) = 1000 B / (10 + 0.1 B) -> 10,000 samples/s. Measured at powers of 4.
  const w = batchWorthUsing(probesOf([16, 64, 256, 1024, 4096, 16384], 10, 0.1))!;
  assert.deepEqual(
    w.points.map((p) => p.steps),
    [2, 2, 2, 2, 2, 2],
  );
  close(w.points[0]!.stepMs, 11.6, 1e-9, 'the 3x slower first step is not in the median');
  close(w.fit.alphaMs, 10, 1e-9);
  close(w.fit.betaMsPerSample, 0.1, 1e-12);
  const T = (b: number) => (1000 * b) / (10 + 0.1 * b);
  assert.equal(w.best.batchSize, 16384);
  // Brute force over the measured batches: the first within 5% of T(16384).
  const measured = [16, 64, 256, 1024, 4096, 16384].find((b) => T(b) >= 0.95 * T(16384));
  assert.equal(w.measuredFrom, measured);
  assert.equal(measured, 4096, 'T(4096) = 9,762 is within 5% of T(16384) = 9,939; T(1024) = 9,110 is not');
  // Between 1024 (below) and 4096 the fit places the point: 1000 B / (10 + 0.1 B) = 0.95 T(16384).
  const target = 0.95 * T(16384);
  assert.deepEqual([w.basis, w.outcome], ['fitted', 'saturated']);
  assert.equal(w.worthFrom, Math.ceil((target * 10) / (1000 - target * 0.1)));
  assert.ok(w.worthFrom > 1024 && w.worthFrom < 4096);
});

test('the batch worth using: still rising, flat from the smallest, pooled probes, too few batches', () => {
  // Far from saturation (alpha dominates up to the largest batch): the fit puts 95% of the best just
  // below the largest batch, 1000 B / (50 + 0.001 B) = 0.95 T(64) at B = 61: still rising, not saturated.
  const rising = batchWorthUsing(probesOf([1, 8, 64], 50, 0.001))!;
  assert.deepEqual([rising.outcome, rising.worthFrom, rising.basis], ['still-rising', 61, 'fitted']);
  // Time proportional to the batch (no fixed part): every batch runs at the same rate.
  const flat = batchWorthUsing(probesOf([4, 32, 256], 0, 0.5))!;
  assert.deepEqual([flat.outcome, flat.worthFrom], ['flat', 4]);
  // The best below the largest batch timed: beyond it nothing is gained, whatever the span.
  const peaked = batchWorthUsing([
    { batchSize: 13, stepMs: [0, 1500] },
    { batchSize: 52, stepMs: [0, 5460] },
    { batchSize: 80, stepMs: [0, 9330] },
  ])!;
  assert.deepEqual([peaked.outcome, peaked.worthFrom, peaked.best.batchSize], ['saturated', 52, 52]);
  // Two probes at one batch (a search probe and its verification) pool their steps.
  const pooled = batchWorthUsing([
    { batchSize: 8, stepMs: [30, 10, 10] },
    { batchSize: 100, stepMs: [60, 20, 20] },
    { batchSize: 100, stepMs: [90, 22, 24, 26, 28] },
  ])!;
  assert.equal(pooled.points[1]!.steps, 6);
  assert.equal(pooled.points[1]!.stepMs, 23, 'median of 20, 20, 22, 24, 26, 28');
  assert.equal(batchWorthUsing([{ batchSize: 8, stepMs: [3, 1, 1] }]), undefined, 'one batch says nothing');
  assert.equal(
    batchWorthUsing([
      { batchSize: 8, stepMs: [3, 1] },
      { batchSize: 16, stepMs: [5] },
    ]),
    undefined,
    'a probe of one step has nothing after its warm-up',
  );
});
