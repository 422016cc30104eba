/**
 * The gradient-noise-scale estimator, fed by real TF.js gradients from the training loop, against the
 * closed form on linear regression.
 *
 * Data (src/data/synthetic.ts): x ~ N(0, I_d), y = w*.x + sigma eps. Model: y_hat = w.x + b with loss
 * 1/2 (y_hat - y)^2 per sample. With the learning rate 0 the weights stay at their initial values: w = w0
 * and b = 0 (biases start at zero). Let delta = w0 - w*. The per-sample gradient is
 *   g_w = x (x.delta - sigma eps),   g_b = x.delta - sigma eps.
 * Population gradient: G = (E[x x^T] delta, E[x.delta]) = (delta, 0), so |G|^2 = |delta|^2.
 * Covariance: for the w block, E[x x^T delta delta^T x x^T] = |delta|^2 I + 2 delta delta^T (Isserlis), plus
 * sigma^2 I from the noise, minus G G^T: tr = d|delta|^2 + 2|delta|^2 + d sigma^2 - |delta|^2 = (d+1)|delta|^2 + d sigma^2.
 * For b: Var(x.delta - sigma eps) = |delta|^2 + sigma^2.
 * So tr(Sigma) = (d+2)|delta|^2 + (d+1) sigma^2 and B_simple = tr(Sigma) / |G|^2 = (d+2) + (d+1) sigma^2 / |delta|^2.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noiseScaleWithCI } from '../../src/core/noise.js';
import { createRng } from '../../src/core/random.js';
import { loadDataset } from '../../src/data/registry.js';
import { selectBackend } from '../../src/engine/backends/select.js';
import { trainTfjs } from '../../src/engine/tfjs/train.js';
import { linregNoiseScale } from '../../src/data/synthetic.js';

await selectBackend({ requested: 'cpu', needsConv: false });

test('B_simple from the training loop matches the closed form on linreg', async () => {
  const d = 8;
  const sigma = 1.5;
  const data = loadDataset('linreg', { dim: d, noiseSigma: sigma, trainCount: 16384, testCount: 256, seed: 4 });
  const r = await trainTfjs({
    data,
    model: { name: 'linear' },
    settings: {
      batchSize: 64,
      accumSteps: 4,
      budget: { epochs: 2 },
      lastBatch: 'drop',
      seed: 9,
      optimizer: { name: 'sgd' },
      lrAt: () => 0,
      evalEvery: 0,
      evalTrainLimit: 256,
    },
    returnWeights: true,
  });
  const [w0, b0] = r.weights!;
  assert.equal(b0![0], 0, 'the bias starts (and stays) at zero');
  const wStar = data.truth!.weights;
  let delta2 = 0;
  for (let i = 0; i < d; i++) delta2 += (w0![i]! - wStar[i]!) ** 2;
  const closedForm = d + 2 + ((d + 1) * sigma ** 2) / delta2;
  const est = noiseScaleWithCI(r.steps, { rng: createRng(1), confidence: 0.95 });
  assert.equal(est.steps, 512, 'every step carried two batch sizes (b = 16, B = 64)');
  const relErr = Math.abs(est.bSimple! - closedForm) / closedForm;
  // Measured here: 0.9% off. 5% still rejects an off-by-one in the dimension term (about 7.5% here).
  assert.ok(
    relErr < 0.05,
    `B_simple ${est.bSimple} vs closed form ${closedForm} (|delta|^2 = ${delta2}), relative error ${relErr}`,
  );
  assert.ok(
    est.low! < closedForm && closedForm < est.high!,
    `95% CI [${est.low}, ${est.high}] should cover ${closedForm}`,
  );
});

/**
 * Near the optimum, where a study's target sits: SGD first brings the loss to about 10% above its floor
 * sigma^2 / 2 (LR 0.05 for NEAR_STEPS steps from |w*|^2 ~ d), then the LR is 0 and the weights stay
 * there while B_simple is measured over MEASURE_STEPS steps at B = 512 (two micro-batches of 256 per step).
 * The estimate is checked against the closed form at the final weights (data/synthetic.ts
 * linregNoiseScale) and against the exact statistics of the training set at those weights (the estimator
 * samples the training set, whose gradient differs from the population's by about sigma sqrt(d / n)).
 */
test('near the optimum, B_simple from the training loop matches the closed form on linreg within 10%', async () => {
  const d = 8;
  const sigma = 1;
  const NEAR_STEPS = 45;
  const MEASURE_STEPS = 1200;
  const data = loadDataset('linreg', { dim: d, noiseSigma: sigma, trainCount: 65_536, testCount: 256, seed: 11 });
  const r = await trainTfjs({
    data,
    model: { name: 'linear' },
    settings: {
      batchSize: 512,
      accumSteps: 2,
      budget: { maxSteps: NEAR_STEPS + MEASURE_STEPS },
      lastBatch: 'drop',
      seed: 3,
      optimizer: { name: 'sgd' },
      lrAt: (step) => (step <= NEAR_STEPS ? 0.05 : 0),
      evalEvery: 0,
      evalTrainLimit: 256,
    },
    returnWeights: true,
  });
  const [w, b] = r.weights!;
  const wStar = data.truth!.weights;
  let dw2 = 0;
  for (let i = 0; i < d; i++) dw2 += (w![i]! - wStar[i]!) ** 2;
  const db2 = b![0]! ** 2;
  const closed = linregNoiseScale({ dim: d, noiseSigma: sigma, dw2, db2 });
  const lossAboveFloor = (dw2 + db2) / sigma ** 2;
  assert.ok(
    lossAboveFloor > 0.03 && lossAboveFloor < 0.3,
    `loss ${(100 * lossAboveFloor).toFixed(1)}% above the floor`,
  );
  const exact = trainingSetNoiseScale(data, w!, b![0]!);
  const measured = noiseScaleWithCI(
    r.steps.filter((s) => s.step > NEAR_STEPS),
    { rng: createRng(2), confidence: 0.95 },
  );
  const relClosed = Math.abs(measured.bSimple! / closed.bSimple - 1);
  const relExact = Math.abs(measured.bSimple! / exact - 1);
  // Measured here: loss 7.6% above the floor; closed form 127.5, exact 125.3, estimate 126.0 (1.2% and 0.5% off).
  const detail = `B_simple ${measured.bSimple} vs closed form ${closed.bSimple} (|dw|^2 ${dw2}, db^2 ${db2}) and exact ${exact}`;
  assert.ok(relClosed < 0.1, detail);
  assert.ok(relExact < 0.1, detail);
});

/** B_simple of the training set itself at weights (w, b): tr(Sigma) and |G|^2 over every sample's gradient, in float64. */
function trainingSetNoiseScale(data: ReturnType<typeof loadDataset>, w: Float32Array, b: number): number {
  const d = w.length;
  const n = data.train.count;
  const g = new Float64Array(d + 1);
  let sumSq = 0;
  for (let i = 0; i < n; i++) {
    let r = b - (data.train.y[i] as number);
    for (let j = 0; j < d; j++) r += (w[j] as number) * (data.train.x[i * d + j] as number);
    let xx = 0;
    for (let j = 0; j < d; j++) {
      const x = data.train.x[i * d + j] as number;
      g[j]! += x * r;
      xx += x * x;
    }
    g[d]! += r;
    sumSq += r * r * (xx + 1);
  }
  let gradSq = 0;
  for (let j = 0; j <= d; j++) gradSq += (g[j]! / n) ** 2;
  return (sumSq / n - gradSq) / gradSq;
}
