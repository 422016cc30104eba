import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { DivergedError } from '../../src/core/errors.js';
import { loadDataset } from '../../src/data/registry.js';
import { selectBackend } from '../../src/engine/backends/select.js';
import type { TrainSettings } from '../../src/engine/trainer.js';
import { trainTfjs } from '../../src/engine/tfjs/train.js';
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
  const once = await trainTfjs({ data, model, settings: settings({ batchSize: 40, accumSteps: 1, budget: { maxSteps: 5 } }), returnWeights: true });
  const accum = await trainTfjs({ data, model, settings: settings({ batchSize: 40, accumSteps: 4, budget: { maxSteps: 5 } }), returnWeights: true });
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
  const r = await trainTfjs({ data, model: { name: 'linear' }, settings: settings({ batchSize: 40, accumSteps: 4, budget: { maxSteps: 3 } }) });
  for (const s of r.steps) assert.ok(s.microGradSqNorm >= s.gradSqNorm * (1 - 1e-6), `${s.microGradSqNorm} < ${s.gradSqNorm}`);
  const plain = await trainTfjs({ data, model: { name: 'linear' }, settings: settings({ batchSize: 40, budget: { maxSteps: 3 } }) });
  for (const s of plain.steps) assert.equal(s.microGradSqNorm, s.gradSqNorm);
});

test('no tensor leaks after a run, with every optimizer', async () => {
  const data = loadDataset('iris', {});
  for (const name of ['sgd', 'momentum', 'adam'] as const) {
    const before = tf.memory().numTensors;
    await trainTfjs({ data, model: { name: 'mlp', hidden: [8] }, settings: settings({ optimizer: { name }, accumSteps: 2, budget: { maxSteps: 4 }, evalEvery: 2 }) });
    assert.equal(tf.memory().numTensors, before, `${name} leaked tensors`);
  }
});

test('same seed gives the same run; another seed gives another', async () => {
  const data = loadDataset('iris', {});
  const run = (seed: number) => trainTfjs({ data, model: { name: 'mlp', hidden: [8] }, settings: settings({ seed, budget: { maxSteps: 6 } }) });
  const [a, b, c] = [await run(5), await run(5), await run(6)];
  assert.deepEqual(a.steps.map((s) => s.loss), b.steps.map((s) => s.loss));
  assert.notDeepEqual(a.steps.map((s) => s.loss), c.steps.map((s) => s.loss));
});

test('loss falls and accuracy rises on iris', async () => {
  const data = loadDataset('iris', {});
  const r = await trainTfjs({ data, model: { name: 'mlp', hidden: [16] }, settings: settings({ batchSize: 16, budget: { epochs: 40 }, optimizer: { name: 'adam' }, lrAt: () => 0.02, evalEvery: 50 }) });
  const tests = r.evals.filter((e) => e.split === 'test');
  assert.ok(tests.at(-1)!.loss < tests[0]!.loss / 2, `held-out loss ${tests[0]!.loss} -> ${tests.at(-1)!.loss}`);
  assert.ok(r.final.test.accuracy! >= 0.9, `iris held-out accuracy ${r.final.test.accuracy}`);
});

test('loss falls and accuracy rises on a 2,000-sample MNIST subset', async () => {
  const data = loadDataset('mnist', { limit: 2000 });
  assert.equal(data.train.count, 2000);
  const r = await trainTfjs({ data, model: { name: 'mlp', hidden: [64] }, settings: settings({ batchSize: 32, budget: { epochs: 2 }, optimizer: { name: 'momentum', momentum: 0.9 }, lrAt: () => 0.05, evalEvery: 20 }) });
  const tests = r.evals.filter((e) => e.split === 'test');
  assert.ok(tests.at(-1)!.accuracy! > tests[0]!.accuracy! + 0.1, `accuracy ${tests[0]!.accuracy} -> ${tests.at(-1)!.accuracy}`);
  assert.ok(r.final.test.accuracy! > 0.8, `accuracy ${r.final.test.accuracy}`);
  const first = r.steps.slice(0, 10).reduce((a, s) => a + s.loss, 0) / 10;
  const last = r.steps.slice(-10).reduce((a, s) => a + s.loss, 0) / 10;
  assert.ok(last < first / 3, `training loss ${first} -> ${last}`);
});

test('a diverging run stops at the step where the loss became NaN/Inf, naming step and learning rate', async () => {
  const data = loadDataset('linreg', {});
  await assert.rejects(
    trainTfjs({ data, model: { name: 'linear' }, settings: settings({ lrAt: () => 1e6, budget: { maxSteps: 50 } }) }),
    (e: unknown) => e instanceof DivergedError && e.step >= 1 && e.step < 50 && e.lr === 1e6 && /step \d+/.test(e.message) && e.message.includes('1000000'),
  );
});

test('a CNN trains on small images and peak memory grows with the batch', async () => {
  const data = loadDataset('mnist', { limit: 256 });
  const small = await trainTfjs({ data, model: { name: 'cnn' }, settings: settings({ batchSize: 4, budget: { maxSteps: 1 } }) });
  const big = await trainTfjs({ data, model: { name: 'cnn' }, settings: settings({ batchSize: 16, budget: { maxSteps: 1 } }) });
  assert.ok(big.peakBytes > small.peakBytes, `${big.peakBytes} should exceed ${small.peakBytes}`);
  assert.ok(Number.isFinite(small.steps[0]!.loss));
});
