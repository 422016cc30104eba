import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalQuantile } from './distributions.js';
import type { NoiseStepRecord } from './noise.js';
import {
  type NoiseAtLoss,
  noiseAlongTraining,
  noiseAtLoss,
  TARGET_LOSS_MIN_STEP,
  trainLossAtStep,
} from './noise-at-loss.js';
import { createRng, type Rng } from './random.js';

/** The synthetic truth: B_simple = 50 / loss (the quadratic model's 1/L). */
const truth = (loss: number): number => 50 / loss;
const LOSSES = [2, 1.5, 1.1, 0.8, 0.6, 0.45, 0.35, 0.3];

/** Segments measured with log-normal error sigma, each with the 90% interval that error implies. */
function measured(rng: Rng, sigma: number): NoiseAtLoss[] {
  const z = normalQuantile(0.95);
  return LOSSES.map((loss, i) => {
    const b = truth(loss) * Math.exp(sigma * rng.normal());
    return {
      loss,
      bSimple: b,
      low: b * Math.exp(-z * sigma),
      high: b * Math.exp(z * sigma),
      confidence: 0.9,
      status: 'ok' as const,
      fromStep: 100 * i + 1,
      toStep: 100 * (i + 1),
    };
  });
}

test('extrapolated to a lower loss: recovers the power law and says "extrapolated from loss X..Y"', () => {
  const at = noiseAtLoss(measured(createRng(1), 0.15), 0.1);
  assert.equal(at.basis, 'extrapolated');
  assert.ok(Math.abs(Math.log(at.estimate / truth(0.1))) < Math.log(1.3), `estimate ${at.estimate} vs ${truth(0.1)}`);
  assert.ok(at.low < truth(0.1) && truth(0.1) < at.high);
  assert.ok(at.exponent!.low < -1 + 0.3 && at.exponent!.high > -1 - 0.3, `exponent ${at.exponent!.estimate}`);
  assert.match(at.text, /^B_simple .* at loss 0\.1, extrapolated from loss 0\.3\.\.2 along B_simple ~ loss\^-/);
  assert.deepEqual(at.lossRange, { low: 0.3, high: 2 });
});

test('the extrapolated 90% interval covers the truth 85-95% of the time (500 simulations)', () => {
  // Measured (seed 2): 0.93 at loss 0.1 (3x below the lowest measured loss), 0.94 at loss 5 (2.5x above the
  // highest): slightly conservative, since half the simulated sets scatter more than their errors say and get a t interval.
  const rng = createRng(2);
  let hitsLow = 0;
  let hitsHigh = 0;
  const sims = 500;
  for (let s = 0; s < sims; s++) {
    const pts = measured(rng, 0.15);
    const a = noiseAtLoss(pts, 0.1);
    const b = noiseAtLoss(pts, 5);
    if (a.low <= truth(0.1) && truth(0.1) <= a.high) hitsLow++;
    if (b.low <= truth(5) && truth(5) <= b.high) hitsHigh++;
  }
  assert.ok(hitsLow / sims >= 0.85 && hitsLow / sims <= 0.95, `coverage at 0.1: ${hitsLow / sims}`);
  assert.ok(hitsHigh / sims >= 0.85 && hitsHigh / sims <= 0.95, `coverage at 5: ${hitsHigh / sims}`);
});

test('a target inside the measured losses is interpolated: "measured near the target"', () => {
  const pts = measured(createRng(3), 0.1);
  const at = noiseAtLoss(pts, 0.7);
  assert.equal(at.basis, 'measured');
  const [a, b] = [pts[3]!, pts[4]!]; // losses 0.8 and 0.6 bracket 0.7
  assert.ok(at.estimate > Math.min(a.bSimple!, b.bSimple!) && at.estimate < Math.max(a.bSimple!, b.bSimple!));
  assert.ok(at.low >= Math.min(a.low!, b.low!) && at.high <= Math.max(a.high!, b.high!));
  assert.match(at.text, /measured near the target \(segments at loss 0\.6 and 0\.8\)/);
  assert.equal(noiseAtLoss(pts, 2).basis, 'measured', 'the highest measured loss itself');
});

test('unusable segments are skipped; fewer than 2 usable throws', () => {
  const pts = measured(createRng(4), 0.1);
  const broken: NoiseAtLoss[] = pts.map((p, i) =>
    i < 7 ? { ...p, status: 'gradient-not-measurable', bSimple: undefined, low: undefined, high: undefined } : p,
  );
  assert.throws(() => noiseAtLoss(broken, 0.1), /at least 2 segments/);
  assert.throws(() => noiseAtLoss(pts, 0), /positive/);
  // A segment whose interval is open above still counts, with the width of its lower side.
  const open = pts.map((p, i) => (i === 0 ? { ...p, high: Number.POSITIVE_INFINITY } : p));
  assert.equal(noiseAtLoss(open, 0.1).n, 8);
});

test('noiseAlongTraining: B_simple per segment from two-batch norms, tied to its mean loss', () => {
  // Per step: |G|^2 = loss (the gradient shrinks with the loss), tr(Sigma) = 50, so B_simple = 50 / loss.
  // The norms are their expectations E|G_b|^2 = |G|^2 + tr(Sigma) / b, so every estimate is exact.
  const records: (NoiseStepRecord & { loss: number })[] = [];
  for (let step = 1; step <= 800; step++) {
    const loss = 2 * Math.exp(-step / 400);
    records.push({
      step,
      loss,
      batchSize: 64,
      microBatchSize: 16,
      accumSteps: 4,
      gradSqNorm: loss + 50 / 64,
      microGradSqNorm: loss + 50 / 16,
    });
  }
  const segs = noiseAlongTraining(records, { rng: createRng(5), segments: 4, iterations: 50 });
  assert.deepEqual(
    segs.map((s) => [s.fromStep, s.toStep]),
    [
      [1, 200],
      [201, 400],
      [401, 600],
      [601, 800],
    ],
  );
  for (const s of segs)
    assert.ok(Math.abs(s.bSimple! - truth(s.loss)) < 1e-6 * truth(s.loss), `${s.bSimple} at ${s.loss}`);
  const at = noiseAtLoss(segs, 0.2);
  assert.equal(at.basis, 'extrapolated');
  // Exactly 50 / loss is a straight line on log-log axes, but the segment losses are means over steps.
  assert.ok(Math.abs(at.estimate / truth(0.2) - 1) < 0.01, `${at.estimate}`);
});

test('trainLossAtStep: the mean loss within max(5, 5% of the step) of it; undefined near the start', () => {
  const steps = Array.from({ length: 300 }, (_, i) => ({ step: i + 1, loss: 1 - (i + 1) / 1000 }));
  // At step 200: steps 190..210, a linear fall, so the centred mean is the loss at 200.
  assert.ok(Math.abs(trainLossAtStep(steps, 200)! - (1 - 200 / 1000)) < 1e-12);
  // A run that stopped at the target: a trailing window (steps 190..200), above the loss at 200.
  assert.ok(Math.abs(trainLossAtStep(steps.slice(0, 200), 200)! - (1 - 195 / 1000)) < 1e-12);
  assert.equal(trainLossAtStep(steps, TARGET_LOSS_MIN_STEP - 1), undefined);
  assert.equal(trainLossAtStep([{ step: 100, loss: Number.NaN }], 100), undefined);
});
