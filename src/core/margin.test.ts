/** The safety margin of a memory budget, derived from the measured spread with a floor, and the ceiling it gives. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deriveMargin, MAX_MARGIN, memoryCeiling, runToRunSpread } from './margin.js';

test('run-to-run spread: pooled relative std over batches measured more than once', () => {
  assert.deepEqual(
    runToRunSpread([
      { batch: 8, peakBytes: 100 },
      { batch: 16, peakBytes: 200 },
    ]),
    { relStd: 0, batches: [], maxPeakBytes: 0 },
  );
  // 90 and 110 around 100: deviations -0.1, +0.1, one degree of freedom: sqrt(0.02 / 1).
  const s = runToRunSpread([
    { batch: 64, peakBytes: 90 },
    { batch: 64, peakBytes: 110 },
    { batch: 8, peakBytes: 5 },
  ]);
  assert.ok(Math.abs(s.relStd - Math.sqrt(0.02)) < 1e-12);
  assert.deepEqual([s.batches, s.maxPeakBytes], [[64], 110]);
});

test('the margin is the floor when the measured spread is small, and the spread when it is larger', () => {
  const quiet = deriveMargin({
    floor: 0.1,
    budgetBytes: 1000,
    residualStdBytes: 2,
    samples: [
      { batch: 4, peakBytes: 500 },
      { batch: 4, peakBytes: 500 },
    ],
  });
  assert.equal(quiet.margin, 0.1);
  assert.equal(quiet.source, 'floor');
  assert.ok(Math.abs(quiet.fitTerm - 0.006) < 1e-12); // 3 x 2 / 1000
  // Fit residual std of 50 bytes on a 1000-byte budget: 3 x 50 / 1000 = 15%.
  const noisyFit = deriveMargin({ floor: 0.1, budgetBytes: 1000, residualStdBytes: 50, samples: [] });
  assert.deepEqual([noisyFit.source, +noisyFit.margin.toFixed(12)], ['fit', 0.15]);
  // 800 and 900 at the same batch: rel std = sqrt(((800/850-1)^2 + (900/850-1)^2) / 1) = 0.0832; 3 x 0.0832 x 900 / 1000 = 0.2246.
  const noisyRuns = deriveMargin({
    floor: 0,
    budgetBytes: 1000,
    samples: [
      { batch: 100, peakBytes: 800 },
      { batch: 100, peakBytes: 900 },
    ],
  });
  assert.equal(noisyRuns.source, 'run-to-run');
  assert.ok(Math.abs(noisyRuns.margin - 3 * Math.sqrt(2 * (50 / 850) ** 2) * 0.9) < 1e-12, String(noisyRuns.margin));
  assert.deepEqual(noisyRuns.repeatedBatches, [100]);
  const huge = deriveMargin({ floor: 0, budgetBytes: 1000, residualStdBytes: 10_000, samples: [] });
  assert.equal(huge.margin, MAX_MARGIN);
});

test('memory ceiling: the fit under the budget minus the default 10% margin; no budget: the training set', () => {
  const points = [1, 2, 4, 8].map((b) => ({ batchSize: b, peakBytes: 1e6 + 1e4 * b }));
  const m = memoryCeiling(points, 100e6, 60_000);
  // The line is exact (no residual, no repeated batch), so the margin is the floor: (100e6 - 10e6 - 1e6) / 1e4 = 8900.
  assert.equal(m.maxBatch, 8900);
  assert.equal(m.marginBytes, 10e6);
  assert.equal(memoryCeiling(points, 100e6, 60_000, 0.05).maxBatch, 9400, '(100e6 - 5e6 - 1e6) / 1e4 under a 5% floor');
  assert.equal(memoryCeiling(points, undefined, 60_000).maxBatch, 60_000);
  assert.throws(() => memoryCeiling(points, 1e6, 60_000), /needs about 1 MB before any batch.*raise --memory-budget/);
});
