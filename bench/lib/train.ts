/**
 * Shared by bench/ and test/native/: the two reference models (MLP 784-256-10, small CNN), the FLOP
 * count bench/engine.ts reports, and a simplified training step (layers model applied in training
 * mode, softmax cross-entropy, tf.variableGrads, tf.train.sgd) for profiles and equivalence tests.
 * Throughput benchmarks time batchlab's real trainer (`trainTfjs`) instead: bench/engine.ts, bench/trainer.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

export type ModelKind = 'mlp' | 'cnn';

/** Builds the model with seeded Glorot-uniform kernels and zero biases (the Keras default scheme). */
export function buildModel(kind: ModelKind, seed: number): tfl.Sequential {
  const init = (k: number) => tfl.initializers.glorotUniform({ seed: seed + k });
  if (kind === 'mlp') {
    return tfl.sequential({
      layers: [
        tfl.layers.dense({ inputShape: [784], units: 256, activation: 'relu', kernelInitializer: init(1) }),
        tfl.layers.dense({ units: 10, kernelInitializer: init(2) }),
      ],
    });
  }
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({
        inputShape: [28, 28, 1],
        filters: 32,
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: init(1),
      }),
      tfl.layers.maxPooling2d({ poolSize: 2, strides: 2 }),
      tfl.layers.conv2d({
        filters: 64,
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: init(2),
      }),
      tfl.layers.maxPooling2d({ poolSize: 2, strides: 2 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 10, kernelInitializer: init(3) }),
    ],
  });
}

/** Input shape of one sample (without the batch dimension). */
export function sampleShape(kind: ModelKind): number[] {
  return kind === 'mlp' ? [784] : [28, 28, 1];
}

/**
 * Forward multiply-add FLOPs of one sample (2 per MAC) of the matmuls/convs only. Training FLOPs
 * are counted as 3x this (forward + input grad + weight grad), the usual convention.
 */
export function forwardFlopsPerSample(kind: ModelKind): number {
  if (kind === 'mlp') return 2 * (784 * 256 + 256 * 10);
  const conv1 = 28 * 28 * 32 * 9 * 1;
  const conv2 = 14 * 14 * 64 * 9 * 32;
  const dense = 7 * 7 * 64 * 10;
  return 2 * (conv1 + conv2 + dense);
}

/** A deterministic pseudo-random batch: inputs in [0, 1), labels from a fixed random teacher. */
export function makeBatch(kind: ModelKind, batch: number, seed: number): { x: tf.Tensor; y: tf.Tensor } {
  return tf.tidy(() => {
    const x = tf.randomUniform([batch, ...sampleShape(kind)], 0, 1, 'float32', seed);
    const flat = tf.reshape(x, [batch, 784]);
    const teacher = tf.randomNormal([784, 10], 0, 1, 'float32', 12345);
    const labels = tf.argMax(tf.matMul(flat, teacher), 1);
    return { x, y: tf.cast(tf.oneHot(labels, 10), 'float32') };
  });
}

export interface Trainer {
  model: tfl.Sequential;
  /** One SGD step on (x, y); returns the loss before the update (kept outside tidy; caller disposes). */
  step(x: tf.Tensor, y: tf.Tensor): tf.Scalar;
  dispose(): void;
}

/** Mirrors batchlab's loop: variableGrads over the trainable variables, then an SGD update. */
export function makeTrainer(kind: ModelKind, seed: number, learningRate = 0.05): Trainer {
  const model = buildModel(kind, seed);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const opt = tf.train.sgd(learningRate);
  const step = (x: tf.Tensor, y: tf.Tensor): tf.Scalar =>
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => {
        const logits = model.apply(x, { training: true }) as tf.Tensor;
        return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
      }, vars);
      opt.applyGradients(grads);
      return value;
    });
  return {
    model,
    step,
    dispose: () => {
      opt.dispose();
      model.dispose();
    },
  };
}
