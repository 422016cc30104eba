/**
 * The fused training-step kernels of batchlab-native (src/engine/backends/native-ops.ts) against the
 * TF.js op chains they replace, run on tfjs-backend-cpu: each test runs the same expression on both
 * backends; on cpu the fused op declines (returns undefined) and the chain runs. Odd sizes, and sizes
 * above one chunk (2^15 elements) so the threaded paths run. Tolerance: TOLERANCE in helpers.ts; the
 * optimizer updates are checked bit for bit (same fp32 rounding order, no FMA in the baseline build).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { compareBackends, maxScaledError, NATIVE, runOn, skipReason, TOLERANCE, type Spec } from './helpers.js';
import { fusedSoftmaxCrossEntropy, fusedSumSquares } from '../../src/engine/backends/native-ops.js';
import type { OptimizerConfig } from '../../src/core/run.js';
import { createOptimizer } from '../../src/engine/tfjs/optimizers.js';
import { loadNativeAddon } from '../../src/engine/backends/native-addon.js';

const SHAPES = [[1], [7], [33, 65], [784, 256], [100_003]];

function sumSquares(xs: tf.Tensor[]): tf.Tensor {
  return fusedSumSquares(xs) ?? tf.addN(xs.map((x) => tf.sum(tf.square(x))));
}

test('sum of squares over several tensors (|g|^2)', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const specs: Spec[] = SHAPES.map((shape, i) => ({ shape, seed: 500 + i }));
  for (let k = 1; k <= specs.length; k++) {
    const err = await compareBackends(specs.slice(0, k), (...xs) => sumSquares(xs));
    assert.ok(err <= TOLERANCE, `${k} tensors: scaled error ${err}`);
  }
  await tf.setBackend(NATIVE);
  assert.equal(fusedSumSquares([])?.dataSync()[0], 0);
});

test('sum of squares is the same bits for any thread count', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const loaded = loadNativeAddon();
  assert.ok(loaded.ok);
  const specs: Spec[] = SHAPES.map((shape, i) => ({ shape, seed: 600 + i }));
  const run = async () => (await runOn(NATIVE, specs, (...xs) => sumSquares(xs)))[0]![0];
  const before = loaded.addon.info().threads;
  try {
    loaded.addon.setThreads(1);
    const one = await run();
    loaded.addon.setThreads(3);
    assert.equal(await run(), one);
  } finally {
    loaded.addon.setThreads(before);
  }
});

/**
 * Three updates of each optimizer on variables of odd shapes; returns the final weights. `exclusive`:
 * each variable owns its storage (as in training), so momentum updates it in place; otherwise it shares
 * the input's storage, which must be left untouched (the fused kernel makes new outputs).
 */
function optimizerRun(config: OptimizerConfig, specs: Spec[], exclusive: boolean): (...xs: tf.Tensor[]) => tf.Tensor[] {
  const half = specs.length / 2;
  return (...xs) => {
    const inputs = xs.slice(0, half);
    const before = inputs.map((x) => Float32Array.from(x.dataSync()));
    const vars = inputs.map((x) => (exclusive ? tf.tidy(() => tf.variable(tf.mul(x, 1), true)) : tf.variable(x, true)));
    const opt = createOptimizer(config);
    try {
      for (let step = 1; step <= 3; step++) {
        const grads = xs.slice(half).map((g) => tf.mul(g, step));
        opt.apply(vars, grads, 0.05 * step);
        tf.dispose(grads);
      }
      inputs.forEach((x, i) =>
        assert.deepEqual(x.dataSync(), before[i], "a tensor sharing a variable's storage changed"),
      );
      return vars.map((v) => v.clone());
    } finally {
      opt.dispose();
      tf.dispose(vars);
    }
  };
}

test('fused sgd, momentum (new outputs and in place) and adam updates match the TF.js op chains bit for bit', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const shapes = [[1], [7, 3], [784, 256], [70_001]];
  const specs: Spec[] = [
    ...shapes.map((shape, i) => ({ shape, seed: 700 + i })),
    ...shapes.map((shape, i) => ({ shape, seed: 800 + i })),
  ];
  const configs: OptimizerConfig[] = [
    { name: 'sgd' },
    { name: 'momentum' },
    { name: 'momentum', momentum: 0.5 },
    { name: 'adam' },
    { name: 'adam', beta1: 0.8, beta2: 0.99, epsilon: 1e-6 },
  ];
  for (const [config, exclusive] of configs.flatMap(
    (c) =>
      [
        [c, true],
        [c, false],
      ] as const,
  )) {
    const fn = optimizerRun(config, specs, exclusive);
    const expected = await runOn('cpu', specs, fn);
    const actual = await runOn(NATIVE, specs, fn);
    expected.forEach((e, i) => {
      const err = maxScaledError(actual[i]!, e);
      assert.equal(err, 0, `${JSON.stringify(config)} exclusive=${exclusive} variable ${i}: scaled error ${err}`);
    });
  }
});

/** Softmax cross-entropy as makeLossFn writes it, fused where the backend has the kernel. */
function xent(logits: tf.Tensor, labels: tf.Tensor1D): tf.Scalar {
  return (
    fusedSoftmaxCrossEntropy(logits, labels) ??
    (tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(labels, logits.shape[1]!), tf.logSoftmax(logits)), -1))) as tf.Scalar)
  );
}

test('fused softmax cross-entropy: loss and gradient, out-of-range labels, large logits', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const cases: [number, number][] = [
    [1, 2],
    [5, 3],
    [67, 10],
    [33, 1001],
  ];
  for (const [rows, classes] of cases) {
    // Labels include -1 and `classes` (no one-hot row: they add 0 to the sum but count in the mean).
    const labels = Array.from({ length: rows }, (_, i) =>
      i % 7 === 5 ? -1 : i % 11 === 3 ? classes : (i * 7) % classes,
    );
    const lab = () => tf.tensor1d(labels, 'int32');
    for (const scale of [1, 40]) {
      const spec: Spec = { shape: [rows, classes], seed: rows + classes + scale, lo: -scale, hi: scale };
      const loss = await compareBackends([spec], (z) => xent(z!, lab()));
      assert.ok(loss <= TOLERANCE, `${rows}x${classes} x${scale} loss: scaled error ${loss}`);
      const grad = await compareBackends([spec], (z) => tf.grad((v: tf.Tensor) => tf.mul(xent(v, lab()), 3))(z!));
      assert.ok(grad <= TOLERANCE, `${rows}x${classes} x${scale} gradient: scaled error ${grad}`);
    }
  }
});

test('fused ops decline what they do not cover: float labels, rank-3 logits, mismatched shapes', async (t) => {
  if (skipReason) return t.skip(skipReason);
  await tf.setBackend(NATIVE);
  tf.tidy(() => {
    assert.equal(fusedSoftmaxCrossEntropy(tf.zeros([4, 3]), tf.zeros([4])), undefined);
    assert.equal(fusedSoftmaxCrossEntropy(tf.zeros([2, 4, 3]), tf.zeros([2], 'int32')), undefined);
    assert.equal(fusedSoftmaxCrossEntropy(tf.zeros([4, 3]), tf.zeros([5], 'int32')), undefined);
    assert.equal(fusedSumSquares([tf.zeros([2], 'int32')]), undefined);
  });
});
