/**
 * Sharpness of the minimum a run ended in: the top eigenvalue lambda_max of the Hessian of the training
 * loss, by power iteration (as in Yao et al. 2020, "PyHessian"). Keskar et al. 2017 tie large batches to
 * sharper minima; this makes that claim measurable.
 *
 * Hessian-vector products come from central finite differences of gradients,
 *   H v ~ (grad L(w + eps v) - grad L(w - eps v)) / (2 eps),   |v| = 1,
 * which needs no second-order autodiff (not every TF.js kernel has a differentiable gradient). The error
 * is O(eps^2) times the third derivative; with eps = 1e-3 it is far below the fp32 noise of the
 * gradients themselves for the models here.
 *
 * The Hessian is taken on one fixed batch: the first `batchSamples` training samples, the same for every
 * run of a sweep, so the numbers compare across batch sizes.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createRng } from '../../core/random.js';
import type { BuiltModel } from '../../models/built-in.js';
import { batchLoss, takeRows, type LossFn, type SplitTensors } from './tensors.js';

const FD_EPS = 1e-3;
/**
 * Power iteration stops early once the Rayleigh quotient changes by under 0.1% between iterations (after
 * at least MIN_ITERATIONS); `iterations` is the cap. Measured on the MNIST MLP after one epoch: 20 iterations
 * gave 0.41, 60 gave 0.308, 150 gave 0.305, so the cap should be well above 20.
 */
const CONVERGED_REL = 1e-3;
const MIN_ITERATIONS = 5;

export interface SharpnessInput {
  built: BuiltModel;
  vars: tf.Variable[];
  train: SplitTensors;
  lossFn: LossFn;
  batchSamples: number;
  iterations: number;
  seed: number;
}

/**
 * lambda_max by `iterations` power-iteration steps; the weights are restored afterwards.
 * Power iteration finds the eigenvalue of largest magnitude; the Hessian of a non-convex loss can have a
 * negative one larger in magnitude than lambda_max. When the first pass ends negative (mu < 0), a second
 * pass on the shifted operator H + |mu| I, whose spectrum is >= 0, gives lambda_max + |mu|.
 */
export function topHessianEigenvalue(input: SharpnessInput): number {
  const first = powerIteration(input, 0);
  return first >= 0 ? first : powerIteration(input, -first) + first;
}

/** Rayleigh quotient after power iteration on H + shift I. */
function powerIteration(input: SharpnessInput, shift: number): number {
  const n = Math.min(input.batchSamples, input.train.count);
  const idx = tf.range(0, n, 1, 'int32') as tf.Tensor1D;
  const batch = takeRows(input.train, idx);
  const saved = input.vars.map((v) => tf.clone(v));
  let v = randomUnit(input.vars, input.seed);
  let lambda = 0;
  try {
    for (let i = 0; i < input.iterations; i++) {
      const raw = hessianVector(input, batch, saved, v);
      const hv = shift === 0 ? raw : tf.tidy(() => raw.map((t, j) => tf.add(t, tf.mul(v[j]!, shift))));
      if (shift !== 0) tf.dispose(raw);
      const [dot, norm] = tf.tidy(() => tf.stack([dotAll(v, hv), tf.sqrt(dotAll(hv, hv))]).dataSync());
      const converged = i >= MIN_ITERATIONS && Math.abs(dot! - lambda) <= CONVERGED_REL * Math.abs(dot!);
      lambda = dot!;
      const next = converged
        ? []
        : norm! > 0
          ? tf.tidy(() => hv.map((t) => tf.div(t, norm!)))
          : v.map((t) => tf.clone(t));
      tf.dispose([...v, ...hv]);
      v = next;
      if (converged) break;
    }
    return lambda;
  } finally {
    input.vars.forEach((w, i) => w.assign(saved[i]!));
    tf.dispose([...saved, ...v, idx, batch.x, batch.y]);
  }
}

/** (g(w + eps v) - g(w - eps v)) / (2 eps), with w the saved weights. */
function hessianVector(
  input: SharpnessInput,
  batch: { x: tf.Tensor; y: tf.Tensor },
  w: tf.Tensor[],
  v: tf.Tensor[],
): tf.Tensor[] {
  const gradAt = (sign: number): tf.Tensor[] => {
    // inside tidy: assign keeps the new value's storage, and tidy frees the tensor object that carried it
    tf.tidy(() => input.vars.forEach((x, i) => x.assign(tf.add(w[i]!, tf.mul(v[i]!, sign * FD_EPS)))));
    const { value, grads } = tf.variableGrads(() => batchLoss(input.built.model, batch, input.lossFn), input.vars);
    value.dispose();
    return input.vars.map((x) => grads[x.name]!);
  };
  const plus = gradAt(1);
  const minus = gradAt(-1);
  const hv = tf.tidy(() => plus.map((p, i) => tf.div(tf.sub(p, minus[i]!), 2 * FD_EPS)));
  tf.dispose([...plus, ...minus]);
  return hv;
}

function dotAll(a: tf.Tensor[], b: tf.Tensor[]): tf.Scalar {
  return tf.addN(a.map((t, i) => tf.sum(tf.mul(t, b[i]!)))) as tf.Scalar;
}

/** A seeded random direction of unit norm, shaped like the variables. */
function randomUnit(vars: tf.Variable[], seed: number): tf.Tensor[] {
  const rng = createRng(seed ^ 0x5eed);
  const parts = vars.map((w) => Float32Array.from({ length: w.size }, () => rng.normal()));
  const norm = Math.sqrt(parts.reduce((s, p) => s + p.reduce((a, x) => a + x * x, 0), 0));
  return parts.map((p, i) =>
    tf.tensor(
      p.map((x) => x / norm),
      vars[i]!.shape,
    ),
  );
}
