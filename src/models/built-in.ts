/**
 * The built-in models, `linear`, `mlp` and `cnn`, and what every built model is: no file system, so the
 * browser playground builds the same models from the same seeds (index.ts adds a user's model.json).
 *
 * Every built-in model outputs raw scores (logits, or the regression prediction); the loss lives in the
 * trainer. Initial weights come from batchlab's own seeded generator, not TF.js's, so the same seed gives
 * the same weights on every backend (and a PyTorch benchmark can copy them).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ShapeError, UsageError } from '../core/errors.js';
import { createRng } from '../core/random.js';
import type { Dataset } from '../data/types.js';

export const MODEL_NAMES = ['linear', 'mlp', 'cnn', 'file'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

/** What to build. `hidden` is for `mlp`; `path` (a model.json) for `file`. */
export interface ModelSpec {
  name: ModelName;
  /** mlp: widths of the hidden layers (default [256]). */
  hidden?: number[];
  /** file: path of a TF.js layers model.json. */
  path?: string;
}

export const DEFAULT_HIDDEN: readonly number[] = [256];

/** A built model and what the trainer needs to know about it. */
export interface BuiltModel {
  model: tfl.LayersModel;
  /** Human-readable architecture, e.g. "mlp 784-256-10". */
  description: string;
  /** Trainable parameters. */
  paramCount: number;
  /** True when the model has convolutions (the wasm backend cannot train them). */
  hasConv: boolean;
  /** True when the model's last layer already applies softmax (user models); built-ins output logits. */
  outputsProbabilities: boolean;
}

/** Output units the dataset needs: classes, or the regression target width. */
export function outputUnits(data: Dataset): number {
  return data.task === 'classification' ? data.numClasses : data.targetDim;
}

/** Builds a built-in model (`linear`, `mlp` or `cnn`) for `data` with weights seeded by `seed`. */
export function buildBuiltInModel(spec: ModelSpec, data: Dataset, seed: number): BuiltModel {
  if (spec.name === 'file') throw new UsageError('model "file" is read from a model.json: build it with buildModel');
  const model = buildBuiltIn(spec, data);
  initWeights(model, seed);
  return {
    model,
    description: describeBuiltIn(spec, data),
    paramCount: model.countParams(),
    hasConv: spec.name === 'cnn',
    outputsProbabilities: false,
  };
}

function buildBuiltIn(spec: ModelSpec, data: Dataset): tfl.LayersModel {
  const units = outputUnits(data);
  const inputShape = data.inputShape;
  const model = tfl.sequential();
  if (spec.name === 'cnn') {
    if (inputShape.length !== 3) {
      throw new ShapeError(
        `model cnn needs image input [height, width, channels], but dataset ${data.name} has input shape [${inputShape.join(', ')}]; use --model mlp`,
      );
    }
    model.add(tfl.layers.conv2d({ inputShape, filters: 32, kernelSize: 3, padding: 'same', activation: 'relu' }));
    model.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
    model.add(tfl.layers.conv2d({ filters: 64, kernelSize: 3, padding: 'same', activation: 'relu' }));
    model.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
    model.add(tfl.layers.flatten());
  } else if (inputShape.length > 1) {
    model.add(tfl.layers.flatten({ inputShape }));
  }
  const hidden = spec.name === 'mlp' ? (spec.hidden ?? DEFAULT_HIDDEN) : [];
  // Flat inputs need no Flatten layer (TF.js's needs rank >= 3); the first Dense layer takes the shape.
  const first = model.layers.length === 0 ? { inputShape } : {};
  hidden.forEach((width, i) =>
    model.add(tfl.layers.dense({ units: width, activation: 'relu', ...(i === 0 ? first : {}) })),
  );
  model.add(tfl.layers.dense({ units, ...(hidden.length === 0 ? first : {}) }));
  return model;
}

function describeBuiltIn(spec: ModelSpec, data: Dataset): string {
  const inputs = data.inputShape.reduce((a, b) => a * b, 1);
  const units = outputUnits(data);
  if (spec.name === 'cnn') return `cnn conv3x3x32-maxpool-conv3x3x64-maxpool-dense${units}`;
  const widths = [inputs, ...(spec.name === 'mlp' ? (spec.hidden ?? DEFAULT_HIDDEN) : []), units];
  return `${spec.name} ${widths.join('-')}`;
}

/**
 * Seeds every weight: Glorot/Xavier uniform for kernels, U(-a, a) with a = sqrt(6 / (fanIn + fanOut))
 * (Glorot & Bengio 2010, eq. 16), and zeros for biases. Fans of a conv kernel [kh, kw, in, out] are
 * kh*kw*in and kh*kw*out.
 */
export function initWeights(model: tfl.LayersModel, seed: number): void {
  const rng = createRng(seed);
  const values = model.getWeights().map((w) => {
    const shape = w.shape;
    const data = new Float32Array(w.size);
    if (shape.length >= 2) {
      const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
      const fanIn = receptive * shape[shape.length - 2]!;
      const fanOut = receptive * shape[shape.length - 1]!;
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      for (let i = 0; i < data.length; i++) data[i] = (2 * rng.uniform() - 1) * limit;
    }
    return tf.tensor(data, shape);
  });
  try {
    model.setWeights(values);
  } finally {
    tf.dispose(values);
  }
}
