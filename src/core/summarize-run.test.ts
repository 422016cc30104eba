import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runLossNoise } from './summarize-run.js';
import type { StepRecord } from './types.js';

/** Steps with the given losses; the other fields do not matter here. */
function steps(losses: readonly number[]): StepRecord[] {
  return losses.map((loss, i) => ({ step: i + 1, loss }) as StepRecord);
}

test('loss noise: measured from finite losses; NaN, not an error, when a command reports no loss', () => {
  const noisy = runLossNoise(steps([2, 2.2, 1.9, 2.1, 1.8, 2.05, 1.95]));
  assert.ok(noisy > 0 && Number.isFinite(noisy), `noise ${noisy}`);
  // A memory probe's helper (examples/warm_protocol.py) reports step, samples, peak and step time only.
  assert.ok(Number.isNaN(runLossNoise(steps([Number.NaN, Number.NaN, Number.NaN, Number.NaN]))));
  assert.ok(Number.isNaN(runLossNoise(steps([1, 2]))), 'fewer than 3 steps');
});
