/**
 * Dataset splits as resident tensors, batch rows taken with `gather` on index tensors, the loss, and
 * evaluation. `gather` rather than `slice`: on the wasm backend `slice` copies the whole source tensor out
 * of WebAssembly memory on every batch (measured at about 10 ms per step); `gather` copies only the rows.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { Dataset } from '../../data/types.js';
import type { BuiltModel } from '../../models/built-in.js';
import type { SplitMetrics } from '../../core/run.js';
import { fusedSoftmaxCrossEntropy } from '../backends/native-ops.js';

export interface SplitTensors {
  /** [count, ...inputShape], float32. */
  x: tf.Tensor;
  /** Classification: [count] int32 labels. Regression: [count, targetDim] float32. */
  y: tf.Tensor;
  count: number;
}

export function toTensors(data: Dataset, split: 'train' | 'test'): SplitTensors {
  const s = data[split];
  const x = tf.tensor(s.x, [s.count, ...data.inputShape], 'float32');
  const y =
    data.task === 'classification'
      ? tf.tensor1d(s.y as Int32Array, 'int32')
      : tf.tensor2d(s.y as Float32Array, [s.count, data.targetDim]);
  return { x, y, count: s.count };
}

/** Mean loss of a batch of model outputs against its targets, as a scalar. */
export type LossFn = (out: tf.Tensor, target: tf.Tensor) => tf.Scalar;

/**
 * Classification: softmax cross-entropy, -mean_i log softmax(z_i)[y_i] (from logits; from probabilities
 * when a user's model ends in softmax). Regression: mean_i 1/2 |f(x_i) - y_i|^2 (the 1/2 keeps the
 * per-sample gradient (f - y) df/dw, the form the noise-scale closed form on linreg assumes).
 */
export function makeLossFn(data: Dataset, built: BuiltModel): LossFn {
  if (data.task === 'regression') {
    return (out, target) => tf.mul(tf.mean(tf.sum(tf.square(tf.sub(out, target)), -1)), 0.5) as tf.Scalar;
  }
  const classes = data.numClasses;
  return (out, target) => {
    // From logits, batchlab-native runs the loss and its gradient as one kernel each.
    const fused = built.outputsProbabilities ? undefined : fusedSoftmaxCrossEntropy(out, target);
    if (fused) return fused;
    const logp = built.outputsProbabilities ? tf.log(tf.maximum(out, 1e-7)) : tf.logSoftmax(out);
    return tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(target as tf.Tensor1D, classes), logp), -1))) as tf.Scalar;
  };
}

/**
 * The rows `idx` of a split. Taken outside the gradient scope on purpose: inside it, TF.js would save the
 * whole source tensor for GatherV2's backward pass (a clone that its byte count reports as a second copy
 * of the dataset), though no gradient flows to the data.
 */
export function takeRows(split: SplitTensors, idx: tf.Tensor1D): { x: tf.Tensor; y: tf.Tensor } {
  return { x: tf.gather(split.x, idx), y: tf.gather(split.y, idx) };
}

/** Mean loss of the model on one batch in training mode (differentiable w.r.t. its variables). */
export function batchLoss(model: tfl.LayersModel, batch: { x: tf.Tensor; y: tf.Tensor }, lossFn: LossFn): tf.Scalar {
  return lossFn(model.apply(batch.x, { training: true }) as tf.Tensor, batch.y);
}

/** Rows evaluated per forward pass. */
const EVAL_CHUNK = 2048;

/**
 * Loss (and accuracy for classification) over the first `limit` rows of a split, in chunks, in inference
 * mode, with the number of rows evaluated. Returns plain numbers; leaves no tensors behind.
 */
export function evaluate(built: BuiltModel, split: SplitTensors, lossFn: LossFn, limit = split.count): SplitMetrics {
  const n = Math.min(limit, split.count);
  const isClassification = split.y.rank === 1;
  let lossSum = 0;
  let correct = 0;
  for (let start = 0; start < n; start += EVAL_CHUNK) {
    const end = Math.min(start + EVAL_CHUNK, n);
    const [l, c] = tf.tidy(() => {
      const idx = tf.range(start, end, 1, 'int32') as tf.Tensor1D;
      const out = built.model.apply(tf.gather(split.x, idx), { training: false }) as tf.Tensor;
      const target = tf.gather(split.y, idx);
      const loss = tf.mul(lossFn(out, target), end - start);
      const hits = isClassification ? tf.sum(tf.cast(tf.equal(tf.argMax(out, -1), target), 'float32')) : tf.scalar(0);
      return tf.stack([loss, hits]).dataSync();
    });
    lossSum += l!;
    correct += c!;
  }
  return isClassification ? { loss: lossSum / n, accuracy: correct / n, count: n } : { loss: lossSum / n, count: n };
}
