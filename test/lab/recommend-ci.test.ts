/**
 * Does the window-bootstrap CI of B_simple (noise.noiseScaleWithCI, as the recommend probe uses it)
 * cover the true value? A pure-TS simulation with a known answer: per-sample gradients
 * g ~ N(G, diag(s^2)) in d dimensions, so tr(Sigma) = sum s_j^2, |G|^2 = sum G_j^2 and
 * B_simple = tr(Sigma) / |G|^2 exactly. Each step draws the two half-batch means
 * m_k = G + sqrt(Sigma / b) z_k (k = 1, 2; b = B/2), the full-batch mean (m_1 + m_2) / 2, and records
 * |G_B|^2 = |(m_1 + m_2)/2|^2 and |G_b|^2 = (|m_1|^2 + |m_2|^2) / 2, exactly as the training loop
 * records a noise step (StepRecord.gradSqNorm, microGradSqNorm).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noiseScaleWithCI } from '../../src/core/noise.js';
import { createRng, type Rng } from '../../src/core/random.js';
import type { StepRecord } from '../../src/core/types.js';
import { NOISE_BOOTSTRAP_WINDOWS, NOISE_PROBE_CONFIDENCE } from '../../src/core/noise-windows.js';

const D = 20;
const BATCH = 64;
const STEPS = 160;
const REPETITIONS = 20;

/** One noise-measurement step of the simulated model. */
function simulatedStep(step: number, g: number[], s: number[], rng: Rng): StepRecord {
  const b = BATCH / 2;
  let full = 0;
  let halves = 0;
  for (let j = 0; j < D; j++) {
    const m1 = g[j]! + (s[j]! / Math.sqrt(b)) * rng.normal();
    const m2 = g[j]! + (s[j]! / Math.sqrt(b)) * rng.normal();
    full += ((m1 + m2) / 2) ** 2;
    halves += (m1 * m1 + m2 * m2) / 2;
  }
  return {
    step,
    samples: step * BATCH,
    loss: 0,
    lr: 0,
    stepMs: 1,
    batchSize: BATCH,
    microBatchSize: b,
    accumSteps: 2,
    gradSqNorm: full,
    microGradSqNorm: halves,
    peakBytes: 0,
  };
}

test(`the 95% CI of B_simple covers the true value in most of ${REPETITIONS} seeded repetitions`, () => {
  const g = Array.from({ length: D }, (_, j) => 0.02 * (1 + (j % 3)));
  const s = Array.from({ length: D }, (_, j) => 0.5 + 0.1 * (j % 5));
  const truth = s.reduce((a, x) => a + x * x, 0) / g.reduce((a, x) => a + x * x, 0);
  let covered = 0;
  const widths: number[] = [];
  for (let rep = 0; rep < REPETITIONS; rep++) {
    const rng = createRng(1000 + rep);
    const steps = Array.from({ length: STEPS }, (_, i) => simulatedStep(i + 1, g, s, rng));
    const est = noiseScaleWithCI(steps, {
      confidence: NOISE_PROBE_CONFIDENCE,
      windows: NOISE_BOOTSTRAP_WINDOWS,
      rng: createRng(rep),
      iterations: 1000,
    });
    if (est.low! <= truth && truth <= est.high!) covered++;
    widths.push((est.high! - est.low!) / truth);
  }
  widths.sort((a, b) => a - b);
  const medianWidth = widths[Math.floor(REPETITIONS / 2)]!;
  // Measured: 18 of 20 covered (true B_simple = 286.5), median width 0.84 x the truth. A nominal 95% CI
  // covers 19 of 20 on average; 16 or fewer happens with probability ~1.6% (binomial), so the bar
  // catches a biased estimator or an interval that is too narrow without flaking on a sound one.
  assert.ok(
    covered >= 17,
    `CI covered the true B_simple ${truth.toFixed(1)} in ${covered} of ${REPETITIONS} repetitions`,
  );
  // ...and is not vacuous: an interval wider than the value itself would cover anything.
  assert.ok(medianWidth < 1, `median CI width ${medianWidth.toFixed(2)} x the true value`);
  console.log(
    `# CI coverage: ${covered}/${REPETITIONS}, true B_simple ${truth.toFixed(1)}, median width ${medianWidth.toFixed(2)} x truth`,
  );
});
