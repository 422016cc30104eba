import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRng } from './random.js';
import type { TrainResult } from './run.js';
import { runIntervals, runLossNoise, summarizeRun } from './summarize-run.js';
import type { StepRecord } from './types.js';

/** `n` steps at batch 32 with noisy step times around 2 ms and a falling, noisy loss. */
function steps(n: number, seed = 1): StepRecord[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, (_, i) => ({
    step: i + 1,
    samples: 32 * (i + 1),
    loss: 2 * Math.exp(-i / 100) + 0.05 * rng.normal(),
    lr: 0.1,
    stepMs: 2 + 0.2 * rng.normal(),
    batchSize: 32,
    microBatchSize: 32,
    accumSteps: 1,
    gradSqNorm: 1,
    microGradSqNorm: 1,
    peakBytes: 1e6,
  }));
}

const FACTS = { batchSize: 32, microBatchSize: 32, accumSteps: 1, seed: 3, lr: 0.1, backend: 'cpu' };

test('a run summary carries its own intervals: Wilson on the held-out size, block bootstrap over steps', () => {
  const s = steps(400);
  const result: TrainResult = {
    status: 'done',
    steps: s,
    evals: [],
    final: {
      train: { loss: 0.1, accuracy: 0.98, count: 10_000 },
      test: { loss: 0.12, accuracy: 0.969, count: 10_000 },
    },
    trainMs: 800,
    wallMs: 900,
    samples: 400 * 32,
    peakBytes: 1e6,
    distanceFromInit: 1,
  };
  const summary = summarizeRun(result, FACTS);
  const { testAccuracy, stepMs, lossNoise } = summary.intervals!;
  assert.equal(testAccuracy?.method, 'wilson');
  assert.equal(testAccuracy?.n, 10_000);
  // 96.9% on 10,000 samples: +-0.34 points (Wilson, 95%).
  assert.ok(Math.abs((testAccuracy!.high - testAccuracy!.low) / 2 - 0.0034) < 0.0002, JSON.stringify(testAccuracy));
  assert.equal(stepMs?.method, 'circular-block-bootstrap');
  assert.equal(stepMs?.estimate, summary.stepMs.median);
  assert.ok(stepMs!.low < stepMs!.estimate && stepMs!.estimate < stepMs!.high);
  assert.ok(Math.abs(lossNoise!.estimate - runLossNoise(s)) < 1e-12, 'the bootstrap estimate is the loss noise');
  assert.deepEqual(summarizeRun(result, FACTS).intervals, summary.intervals, 'reproducible');
});

test('intervals the data cannot give are left out, never stored as numbers they are not', () => {
  const few = steps(8);
  const out = runIntervals({
    stepMs: few.map((s) => s.stepMs),
    warmupSteps: 5,
    losses: few.slice(0, 2).map((s) => s.loss),
    test: { loss: 0.3, accuracy: 0.9 },
    seed: 1,
  });
  assert.equal(out.testAccuracy, undefined, 'no held-out size: no Wilson interval');
  assert.equal(out.lossNoise, undefined, 'two losses are too few');
  // Three step times after the warm-up make one block of two: Student's factor for one block is unbounded.
  assert.equal(out.stepMs, undefined);
});

/** Steps with the given losses; the other fields do not matter here. */
function lossSteps(losses: readonly number[]): StepRecord[] {
  return losses.map((loss, i) => ({ step: i + 1, loss }) as StepRecord);
}

test('loss noise: measured from finite losses; NaN, not an error, when a command reports no loss', () => {
  const noisy = runLossNoise(lossSteps([2, 2.2, 1.9, 2.1, 1.8, 2.05, 1.95]));
  assert.ok(noisy > 0 && Number.isFinite(noisy), `noise ${noisy}`);
  // A memory probe's helper (examples/warm_protocol.py) reports step, samples, peak and step time only.
  assert.ok(Number.isNaN(runLossNoise(lossSteps([Number.NaN, Number.NaN, Number.NaN, Number.NaN]))));
  assert.ok(Number.isNaN(runLossNoise(lossSteps([1, 2]))), 'fewer than 3 steps');
});
