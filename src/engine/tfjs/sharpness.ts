/**
 * Sharpness of the minimum a run ended in: the top eigenvalue lambda_max of the Hessian of the training
 * loss, by the Lanczos method (core/lanczos.ts; as in Yao et al. 2020, "PyHessian"). Keskar et al. 2017
 * tie large batches to sharper minima; this makes that claim measurable.
 *
 * Hessian-vector products come from central finite differences of gradients,
 *   H v ~ (grad L(w + eps v) - grad L(w - eps v)) / (2 eps),   |v| = 1,
 * which needs no second-order autodiff (not every TF.js kernel has a differentiable gradient). The error
 * is O(eps^2) times the third derivative; with eps = 1e-3 it is far below the fp32 noise of the
 * gradients themselves for the models here.
 *
 * The Hessian is taken on one fixed batch: the first `batchSamples` training samples, the same for every
 * run of a sweep, so the numbers compare across batch sizes.
 *
 * Cost: each product is two gradients on that batch. Power iteration (before Lanczos) needed 60-100
 * products on the demo's MNIST MLP to settle within 0.1% (20 gave 0.41, 60 gave 0.308, 150 gave 0.305);
 * Lanczos settles in about 10-20, for the same answer.
 */
import * as tf from '@tensorflow/tfjs-core';
import { lanczosTopEigenvalue } from '../../core/lanczos.js';
import { createRng } from '../../core/random.js';
import type { BuiltModel } from '../../models/built-in.js';
import { batchLoss, takeRows, type LossFn, type SplitTensors } from './tensors.js';

const FD_EPS = 1e-3;
/** Which finite differences the products use unless told (see SharpnessInput.difference). */
export const DEFAULT_DIFFERENCE: 'central' | 'forward' = 'central';
/** Stop once the estimate grows by under 0.1% in one product (after at least MIN_ITERATIONS); `iterations` is the cap. */
const CONVERGED_REL = 1e-3;
const MIN_ITERATIONS = 3;

export interface SharpnessInput {
  built: BuiltModel;
  vars: tf.Variable[];
  train: SplitTensors;
  lossFn: LossFn;
  batchSamples: number;
  /** Most Hessian-vector products. */
  iterations: number;
  seed: number;
  /**
   * Finite differences: 'central' (two gradients per product, error O(eps^2)) or 'forward' (one gradient
   * per product and one at w, error O(eps)). Default DEFAULT_DIFFERENCE.
   */
  difference?: 'central' | 'forward';
  /** Stop once the estimate grows by under this fraction in one product (default CONVERGED_REL). */
  relTol?: number;
}

/** lambda_max, and the Hessian-vector products it took. */
export interface SharpnessEstimate {
  topEigenvalue: number;
  products: number;
}

/** lambda_max of the training loss's Hessian on the fixed batch; the weights are restored afterwards. */
export function topHessianEigenvalue(input: SharpnessInput): SharpnessEstimate {
  const n = Math.min(input.batchSamples, input.train.count);
  const idx = tf.range(0, n, 1, 'int32') as tf.Tensor1D;
  const batch = takeRows(input.train, idx);
  const saved = input.vars.map((v) => tf.clone(v));
  const central = (input.difference ?? DEFAULT_DIFFERENCE) === 'central';
  const atW = central ? undefined : gradientAt(input, batch, saved);
  try {
    const apply = (v: Float64Array): Float64Array => {
      const parts = unflatten(v, input.vars);
      const hv = hessianVector(input, batch, saved, parts, atW);
      try {
        return flatten(hv);
      } finally {
        tf.dispose([...parts, ...hv]);
      }
    };
    const r = lanczosTopEigenvalue({
      apply,
      start: randomDirection(input.vars, input.seed),
      maxIterations: input.iterations,
      relTol: input.relTol ?? CONVERGED_REL,
      minIterations: MIN_ITERATIONS,
    });
    return { topEigenvalue: r.value, products: r.iterations };
  } finally {
    input.vars.forEach((w, i) => w.assign(saved[i]!));
    tf.dispose([...saved, ...(atW ?? []), idx, batch.x, batch.y]);
  }
}

/** The variables' values as one vector (float64, for the Lanczos recurrences). */
function flatten(ts: tf.Tensor[]): Float64Array {
  const out = new Float64Array(ts.reduce((n, t) => n + t.size, 0));
  let offset = 0;
  for (const t of ts) {
    out.set(t.dataSync() as Float32Array, offset);
    offset += t.size;
  }
  return out;
}

/** One vector back into tensors shaped like the variables. */
function unflatten(v: Float64Array, vars: tf.Variable[]): tf.Tensor[] {
  let offset = 0;
  return vars.map((w) => {
    const part = Float32Array.from(v.subarray(offset, offset + w.size));
    offset += w.size;
    return tf.tensor(part, w.shape);
  });
}

/** The gradient of the loss on `batch` at the weights `w` + `shift` (the variables are left at that point). */
function gradientAt(
  input: SharpnessInput,
  batch: { x: tf.Tensor; y: tf.Tensor },
  w: tf.Tensor[],
  shift?: { v: tf.Tensor[]; by: number },
): tf.Tensor[] {
  input.vars.forEach((x, i) => {
    // assign() shares the new tensor's data; the tensor itself must still be disposed.
    const moved = tf.tidy(() => (shift ? tf.add(w[i]!, tf.mul(shift.v[i]!, shift.by)) : tf.clone(w[i]!)));
    x.assign(moved);
    moved.dispose();
  });
  const { value, grads } = tf.variableGrads(() => batchLoss(input.built.model, batch, input.lossFn), input.vars);
  value.dispose();
  return input.vars.map((x) => grads[x.name]!);
}

/**
 * H v by finite differences of gradients around the saved weights w: central,
 * (g(w + eps v) - g(w - eps v)) / (2 eps), or, given g(w), forward, (g(w + eps v) - g(w)) / eps.
 */
function hessianVector(
  input: SharpnessInput,
  batch: { x: tf.Tensor; y: tf.Tensor },
  w: tf.Tensor[],
  v: tf.Tensor[],
  atW?: tf.Tensor[],
): tf.Tensor[] {
  const plus = gradientAt(input, batch, w, { v, by: FD_EPS });
  const minus = atW ?? gradientAt(input, batch, w, { v, by: -FD_EPS });
  const span = atW ? FD_EPS : 2 * FD_EPS;
  const hv = tf.tidy(() => plus.map((p, i) => tf.div(tf.sub(p, minus[i]!), span)));
  tf.dispose(atW ? plus : [...plus, ...minus]);
  return hv;
}

/** A seeded random direction of any norm (Lanczos normalizes it), as long as all the variables together. */
function randomDirection(vars: tf.Variable[], seed: number): Float64Array {
  const rng = createRng(seed ^ 0x5eed);
  return Float64Array.from({ length: vars.reduce((n, w) => n + w.size, 0) }, () => rng.normal());
}
