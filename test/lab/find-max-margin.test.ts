/** The find-max safety margin, derived from the measured spread with a floor; and the secant refinement of the start. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deriveMargin, MAX_MARGIN, runToRunSpread } from '../../src/lab/find-max-margin.js';
import { judge, secantStart } from '../../src/lab/find-max.js';

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

test('secant start: the line through the largest analytic point and the far probe', () => {
  // peak = 1000 + 10 B exactly: from (8, 1080) and a far probe at 500 (6000), limit 5000 -> B = 400.
  assert.equal(secantStart({ batch: 8, peakBytes: 1080 }, { batch: 500, peakBytes: 6000 }, 5000), 400);
  assert.equal(
    secantStart({ batch: 8, peakBytes: 1080 }, { batch: 500 }, 5000),
    undefined,
    'a real OOM measured no peak',
  );
  assert.equal(
    secantStart({ batch: 8, peakBytes: 1080 }, { batch: 500, peakBytes: 900 }, 5000),
    undefined,
    'memory did not grow',
  );
});

test('a run that finished above the limit is over-budget; errors keep their kind and first line', () => {
  const at = { index: 1, phase: 'search' as const, batch: 64, steps: 3, limitBytes: 1000 };
  assert.equal(judge({ kind: 'ok', peakBytes: 1000, ms: 1 }, at).kind, 'ok');
  const over = judge({ kind: 'ok', peakBytes: 1001, ms: 1 }, at);
  assert.deepEqual([over.kind, over.ok, over.reason], ['over-budget', false, 'peak 1001 B > limit 1000 B']);
  const err = judge({ kind: 'error', ms: 1, message: 'BATCHLAB_SHAPE_MISMATCH: bad shape\nstack...' }, at);
  assert.deepEqual([err.kind, err.reason], ['error', 'BATCHLAB_SHAPE_MISMATCH: bad shape']);
});
