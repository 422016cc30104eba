import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { DivergedError } from '../../src/core/errors.js';
import { loadDataset } from '../../src/data/registry.js';
import { selectBackend } from '../../src/engine/backends/select.js';
import type { TrainSettings } from '../../src/engine/trainer.js';
import { dataTensors, disposeDataTensors, trainTfjs } from '../../src/engine/tfjs/train.js';
import type { ModelSpec } from '../../src/models/index.js';

await selectBackend({ requested: 'cpu', needsConv: true });

function settings(over: Partial<TrainSettings>): TrainSettings {
  return {
    batchSize: 32,
    accumSteps: 1,
    budget: { epochs: 1 },
    lastBatch: 'keep',
    seed: 3,
    optimizer: { name: 'sgd' },
    lrAt: () => 0.1,
    evalEvery: 0,
    evalTrainLimit: 10_000,
    ...over,
  };
}

function maxRelDiff(a: Float32Array[], b: Float32Array[]): number {
  let worst = 0;
  a.forEach((wa, i) => {
    const wb = b[i]!;
    let num = 0;
    let den = 0;
    for (let j = 0; j < wa.length; j++) {
      num += (wa[j]! - wb[j]!) ** 2;
      den += wa[j]! ** 2;
    }
    worst = Math.max(worst, Math.sqrt(num / Math.max(den, 1e-30)));
  });
  return worst;
}

test('accumulation is exact: k micro-batches of b give the same SGD updates as one batch of k*b', async () => {
  const data = loadDataset('iris', {});
  const model: ModelSpec = { name: 'mlp', hidden: [16] };
  const once = await trainTfjs({
    data,
    model,
    settings: settings({ batchSize: 40, accumSteps: 1, budget: { maxSteps: 5 } }),
    returnWeights: true,
  });
  const accum = await trainTfjs({
    data,
    model,
    settings: settings({ batchSize: 40, accumSteps: 4, budget: { maxSteps: 5 } }),
    returnWeights: true,
  });
  assert.equal(accum.steps[0]!.microBatchSize, 10);
  assert.equal(accum.steps[0]!.accumSteps, 4);
  const diff = maxRelDiff(once.weights!, accum.weights!);
  assert.ok(diff < 1e-5, `relative weight difference ${diff} should be below 1e-5`);
  once.steps.forEach((s, i) => assert.ok(Math.abs(s.loss - accum.steps[i]!.loss) < 1e-5 * Math.abs(s.loss)));
  // A real update happened (so the comparison is not trivially equal).
  assert.ok(accum.distanceFromInit > 1e-3);
});

test('mean micro-batch |g|^2 is at least |mean g|^2 (Jensen), and equal without accumulation', async () => {
  const data = loadDataset('iris', {});
  const r = await trainTfjs({
    data,
    model: { name: 'linear' },
    settings: settings({ batchSize: 40, accumSteps: 4, budget: { maxSteps: 3 } }),
  });
  for (const s of r.steps)
    assert.ok(s.microGradSqNorm >= s.gradSqNorm * (1 - 1e-6), `${s.microGradSqNorm} < ${s.gradSqNorm}`);
  const plain = await trainTfjs({
    data,
    model: { name: 'linear' },
    settings: settings({ batchSize: 40, budget: { maxSteps: 3 } }),
  });
  for (const s of plain.steps) assert.equal(s.microGradSqNorm, s.gradSqNorm);
});

test('no tensor leaks after a run, with every optimizer, the noise steps and the sharpness estimate', async () => {
  const data = loadDataset('iris', {});
  for (const name of ['sgd', 'momentum', 'adam'] as const) {
    const before = tf.memory().numTensors;
    const r = await trainTfjs({
      data,
      model: { name: 'mlp', hidden: [8] },
      settings: settings({
        optimizer: { name },
        accumSteps: 2,
        budget: { maxSteps: 4 },
        evalEvery: 2,
        noiseEvery: 2,
        sharpness: { batchSamples: 32, iterations: 5 },
      }),
    });
    assert.ok(Number.isFinite(r.sharpness?.topEigenvalue));
    assert.equal(tf.memory().numTensors, before, `${name} leaked tensors`);
  }
});

test('a run on tensors its caller keeps leaves them alive and makes the same run', async () => {
  const data = loadDataset('iris', {});
  const tensors = dataTensors(data);
  try {
    const run = () =>
      trainTfjs({
        data,
        model: { name: 'mlp', hidden: [8] },
        settings: settings({ budget: { maxSteps: 6 } }),
        tensors,
      });
    const own = await trainTfjs({
      data,
      model: { name: 'mlp', hidden: [8] },
      settings: settings({ budget: { maxSteps: 6 } }),
    });
    const before = tf.memory().numTensors;
    const [a, b] = [await run(), await run()];
    assert.equal(tf.memory().numTensors, before, 'the kept tensors are still there, nothing else');
    assert.deepEqual(
      a.steps.map((s) => s.loss),
      own.steps.map((s) => s.loss),
    );
    assert.deepEqual(
      b.steps.map((s) => s.loss),
      own.steps.map((s) => s.loss),
    );
    assert.ok(a.phasesMs && a.phasesMs.train === a.trainMs && (a.phasesMs.eval ?? 0) > 0);
  } finally {
    disposeDataTensors(tensors);
  }
});

test('same seed gives the same run; another seed gives another', async () => {
  const data = loadDataset('iris', {});
  const run = (seed: number) =>
    trainTfjs({ data, model: { name: 'mlp', hidden: [8] }, settings: settings({ seed, budget: { maxSteps: 6 } }) });
  const [a, b, c] = [await run(5), await run(5), await run(6)];
  assert.deepEqual(
    a.steps.map((s) => s.loss),
    b.steps.map((s) => s.loss),
  );
  assert.notDeepEqual(
    a.steps.map((s) => s.loss),
    c.steps.map((s) => s.loss),
  );
});

test('loss falls and accuracy rises on iris', async () => {
  const data = loadDataset('iris', {});
  const r = await trainTfjs({
    data,
    model: { name: 'mlp', hidden: [16] },
    settings: settings({
      batchSize: 16,
      budget: { epochs: 40 },
      optimizer: { name: 'adam' },
      lrAt: () => 0.02,
      evalEvery: 50,
    }),
  });
  const tests = r.evals.filter((e) => e.split === 'test');
  assert.ok(tests.at(-1)!.loss < tests[0]!.loss / 2, `held-out loss ${tests[0]!.loss} -> ${tests.at(-1)!.loss}`);
  assert.ok(r.final.test.accuracy! >= 0.9, `iris held-out accuracy ${r.final.test.accuracy}`);
});

test('a train-loss target stops at the first periodic training-loss evaluation at or below it', async () => {
  const data = loadDataset('iris', {});
  const target = { metric: 'train-loss' as const, value: 0.3 };
  const r = await trainTfjs({
    data,
    model: { name: 'mlp', hidden: [16] },
    settings: settings({
      batchSize: 16,
      budget: { epochs: 200 },
      optimizer: { name: 'adam' },
      lrAt: () => 0.02,
      evalEvery: 5,
      target,
    }),
  });
  const trainEvals = r.evals.filter((e) => e.split === 'train');
  const hit = trainEvals.find((e) => e.loss <= target.value);
  assert.ok(hit, `the training loss reached ${target.value}: ${trainEvals.map((e) => e.loss.toFixed(3)).join(' ')}`);
  assert.equal(r.status, 'target-reached');
  assert.deepEqual(r.reachedTarget && [r.reachedTarget.step, r.reachedTarget.samples], [hit.step, hit.samples]);
  assert.equal(r.steps.at(-1)!.step, hit.step, 'stopped at that evaluation');
  assert.ok(
    trainEvals.filter((e) => e.step < hit.step).every((e) => e.loss > target.value),
    'not before',
  );
  assert.equal(r.final.test.count, data.test.count, 'the final held-out evaluation says its size');
});

test('loss falls and accuracy rises on a 2,000-sample MNIST subset', async () => {
  const data = loadDataset('mnist', { limit: 2000 });
  assert.equal(data.train.count, 2000);
  const r = await trainTfjs({
    data,
    model: { name: 'mlp', hidden: [64] },
    settings: settings({
      batchSize: 32,
      budget: { epochs: 2 },
      optimizer: { name: 'momentum', momentum: 0.9 },
      lrAt: () => 0.05,
      evalEvery: 20,
    }),
  });
  const tests = r.evals.filter((e) => e.split === 'test');
  assert.ok(
    tests.at(-1)!.accuracy! > tests[0]!.accuracy! + 0.1,
    `accuracy ${tests[0]!.accuracy} -> ${tests.at(-1)!.accuracy}`,
  );
  assert.ok(r.final.test.accuracy! > 0.8, `accuracy ${r.final.test.accuracy}`);
  const first = r.steps.slice(0, 10).reduce((a, s) => a + s.loss, 0) / 10;
  const last = r.steps.slice(-10).reduce((a, s) => a + s.loss, 0) / 10;
  assert.ok(last < first / 3, `training loss ${first} -> ${last}`);
});

test('a diverging run stops at the step where the loss became NaN/Inf, naming step and learning rate', async () => {
  const data = loadDataset('linreg', {});
  await assert.rejects(
    trainTfjs({ data, model: { name: 'linear' }, settings: settings({ lrAt: () => 1e6, budget: { maxSteps: 50 } }) }),
    (e: unknown) =>
      e instanceof DivergedError &&
      e.step >= 1 &&
      e.step < 50 &&
      e.lr === 1e6 &&
      /step \d+/.test(e.message) &&
      e.message.includes('1000000'),
  );
});

test('a CNN trains on small images and peak memory grows with the batch', async () => {
  const data = loadDataset('mnist', { limit: 256 });
  const small = await trainTfjs({
    data,
    model: { name: 'cnn' },
    settings: settings({ batchSize: 4, budget: { maxSteps: 1 } }),
  });
  const big = await trainTfjs({
    data,
    model: { name: 'cnn' },
    settings: settings({ batchSize: 16, budget: { maxSteps: 1 } }),
  });
  assert.ok(big.peakBytes > small.peakBytes, `${big.peakBytes} should exceed ${small.peakBytes}`);
  assert.ok(Number.isFinite(small.steps[0]!.loss));
});

test('noise-measurement steps split the batch in two without changing the updates', async () => {
  const data = loadDataset('iris', {});
  const model: ModelSpec = { name: 'mlp', hidden: [8] };
  const plain = await trainTfjs({
    data,
    model,
    settings: settings({ batchSize: 20, budget: { maxSteps: 6 } }),
    returnWeights: true,
  });
  const noisy = await trainTfjs({
    data,
    model,
    settings: settings({ batchSize: 20, budget: { maxSteps: 6 }, noiseEvery: 3 }),
    returnWeights: true,
  });
  assert.deepEqual(
    noisy.steps.map((s) => s.accumSteps),
    [1, 1, 2, 1, 1, 2],
  );
  assert.deepEqual(
    noisy.steps.map((s) => s.microBatchSize),
    [20, 20, 10, 20, 20, 10],
  );
  assert.ok(maxRelDiff(plain.weights!, noisy.weights!) < 1e-5);
});

test('sharpness: top Hessian eigenvalue matches the closed form on linear regression', async () => {
  // For L(w, c) = 1/(2n) sum_i (w.x_i + c - y_i)^2 the Hessian is (1/n) sum_i z_i z_i^T with z_i = [x_i; 1],
  // independent of the weights. Its top eigenvalue by brute-force power iteration is the reference.
  const data = loadDataset('linreg', { dim: 5 });
  const n = 256;
  const d = 5;
  const h = Array.from({ length: d + 1 }, () => new Float64Array(d + 1));
  for (let i = 0; i < n; i++) {
    const z = [...data.train.x.subarray(i * d, (i + 1) * d), 1];
    for (let a = 0; a <= d; a++) for (let b = 0; b <= d; b++) h[a]![b]! += (z[a]! * z[b]!) / n;
  }
  let v = new Float64Array(d + 1).fill(1);
  let lambda = 0;
  for (let it = 0; it < 500; it++) {
    const hv = h.map((row) => row.reduce((s, x, j) => s + x * v[j]!, 0));
    const norm = Math.hypot(...hv);
    lambda = hv.reduce((s, x, j) => s + x * v[j]!, 0) / v.reduce((s, x) => s + x * x, 0);
    v = Float64Array.from(hv, (x) => x / norm);
  }
  const before = tf.memory().numTensors;
  const r = await trainTfjs({
    data,
    model: { name: 'linear' },
    settings: settings({ budget: { maxSteps: 2 }, sharpness: { batchSamples: n, iterations: 60 } }),
  });
  const got = r.sharpness!.topEigenvalue;
  assert.ok(Math.abs(got - lambda) / lambda < 0.01, `lambda_max ${got} vs closed form ${lambda}`);
  assert.equal(tf.memory().numTensors, before, 'the power iteration leaves no tensor behind');
});
