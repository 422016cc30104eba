/** The recommend probe's plan: its share of the sweep, its phases, its noise windows. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  noiseWindows,
  planProbe,
  ProbeTooSmallError,
  referenceSweepSamples,
  requiredTrainSamples,
  studyComputeEstimate,
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
  assert.equal(
    capped.noise?.batchSize,
    64,
    'noise batch 300 -> 256 -> 128 (98 steps) -> 64: the first with 100+ steps',
  );
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

test('the study a recommendation replaces costs at least one run to the target per batch size, E(B) = E_min (1 + B / B_crit)', () => {
  // 1,000 samples to the target at b = 64 with B_crit = 64: E_min = 1,000 / (1 + 1) = 500.
  const e = studyComputeEstimate({ samplesToTarget: 1000, batchSize: 64, bCrit: 64, batchSizes: [16, 64, 256] });
  assert.equal(e, 500 * (1 + 16 / 64) + 500 * 2 + 500 * (1 + 256 / 64));
  // Far below B_crit every batch size costs about E_min: 7 batch sizes, about 7 runs.
  const flat = studyComputeEstimate({
    samplesToTarget: 1000,
    batchSize: 64,
    bCrit: 1e9,
    batchSizes: [16, 32, 64, 128, 256, 512, 1024],
  });
  assert.ok(Math.abs(flat / 7000 - 1) < 1e-5);
});

test('with a target there is no early noise probe: the throughput phase gets the budget, and small data is no error', () => {
  const p = planProbe({ trainCount: 12_000, baseBatch: 64, maxBatch: 12_000, earlyNoise: false });
  assert.equal(p.noise, undefined);
  const early = planProbe({ trainCount: 12_000, baseBatch: 64, maxBatch: 12_000 });
  assert.ok(p.throughput.length > early.throughput.length, `${p.throughput.length} vs ${early.throughput.length}`);
  // 5% of 7 x 12,000 samples less the memory phase: 16, 64 and 256 (6 steps each), not 1024.
  assert.deepEqual(
    p.throughput.map((x) => x.batchSize),
    [16, 64, 256],
  );
  assert.doesNotThrow(() => planProbe({ trainCount: 120, baseBatch: 16, maxBatch: 120, earlyNoise: false }));
});
