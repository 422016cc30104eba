/** The recommend probe's plan: its share of the sweep, its phases, its noise windows. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  noiseWindows,
  planProbe,
  ProbeTooSmallError,
  referenceSweepSamples,
  requiredTrainSamples,
} from './recommend-plan.js';

test('the probe plan on MNIST (60,000 samples) stays within 5% of the default sweep', () => {
  const p = planProbe({ trainCount: 60_000, baseBatch: 64, maxBatch: 60_000 });
  assert.equal(p.sweepSamples, 7 * 60_000);
  assert.ok(p.samples <= 0.05 * p.sweepSamples, `${p.samples} samples > 5% of ${p.sweepSamples}`);
  assert.deepEqual(
    p.memory.map((r) => r.batchSize),
    [1, 2, 4, 8],
  );
  assert.deepEqual(p.noise, { batchSize: 64, steps: 196 }); // 0.6 x (21,000 - 45) / 64
  assert.deepEqual(
    p.throughput.map((r) => r.batchSize),
    [16, 64, 256, 1024],
  );
  // A memory ceiling of 300 caps the noise batch at the base batch and the throughput batches at 300.
  const capped = planProbe({ trainCount: 60_000, baseBatch: 512, maxBatch: 300 });
  assert.equal(capped.noise.batchSize, 64, 'noise batch 300 -> 256 -> 128 (98 steps) -> 64: the first with 100+ steps');
  assert.deepEqual(
    capped.throughput.map((r) => r.batchSize),
    [16, 64, 256],
  );
});

test('a dataset too small to measure a noise scale: the error says how many samples are needed', () => {
  const need = requiredTrainSamples(0.05);
  assert.doesNotThrow(() => planProbe({ trainCount: need, baseBatch: 64, maxBatch: need }));
  assert.throws(() => planProbe({ trainCount: need - 1, baseBatch: 64, maxBatch: need - 1 }), ProbeTooSmallError);
  assert.throws(
    () => planProbe({ trainCount: 120, baseBatch: 16, maxBatch: 120 }),
    (err: Error) => {
      assert.match(
        err.message,
        new RegExp(
          `training set of 120 samples is too small.*at least ${need.toLocaleString('en-US')} training samples.*--probe-share`,
        ),
      );
      return true;
    },
  );
  assert.equal(referenceSweepSamples(120), 3 * 120, 'only 16, 32, 64 fit 120 samples');
  assert.doesNotThrow(() => planProbe({ trainCount: 120, baseBatch: 16, maxBatch: 120, share: 10 }));
});

test('noise windows skip the first sixth, then split the rest in two', () => {
  assert.deepEqual(noiseWindows(1, 300), [
    [51, 175],
    [176, 300],
  ]);
  assert.deepEqual(noiseWindows(1, 196), [
    [34, 115],
    [116, 196],
  ]);
});
