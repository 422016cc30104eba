import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  fitStepTime,
  predictStepMs,
  samplesPerSec,
  saturationBatch,
  saturationBatchFromFit,
  stepTimeStats,
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
