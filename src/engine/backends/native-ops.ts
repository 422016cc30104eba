/**
 * Fused training-step ops that only batchlab-native implements: the optimizer updates, |g|^2 over
 * several tensors, and softmax cross-entropy with its gradient. Each replaces a chain of 5 to 15 TF.js
 * kernels (one dispatch, one output allocation and one memory pass per link; measured ~1.5 ms of a
 * 3 ms MLP step at B = 64) with one kernel.
 *
 * Every function returns undefined when the active backend does not register the kernel (or the inputs
 * are not the plain float32/int32 case), and the caller runs its TF.js op chain instead: on cpu and wasm
 * nothing changes. The update rules round each intermediate to fp32 in the order of that chain.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
// A type only: this module runs in the browser playground too, where no addon exists.
import type { NativeAddon } from './native-api.js';

export const FUSED_KERNELS = {
  sumSquares: 'BatchlabSumSquares',
  sgd: 'BatchlabSgdUpdate',
  momentum: 'BatchlabMomentumUpdate',
  adam: 'BatchlabAdamUpdate',
  softmaxXent: 'BatchlabSoftmaxXent',
  softmaxXentGrad: 'BatchlabSoftmaxXentGrad',
  reluGrad: 'BatchlabReluGrad',
} as const;

function available(kernelName: string): boolean {
  return tf.getKernel(kernelName, tf.getBackend()) !== undefined;
}

function allF32(ts: tf.Tensor[]): boolean {
  return ts.every((t) => t.dtype === 'float32');
}

/** sum_i sum(ts[i]^2) as a float32 scalar (accumulated in double), or undefined. */
export function fusedSumSquares(ts: tf.Tensor[]): tf.Scalar | undefined {
  if (!available(FUSED_KERNELS.sumSquares) || !allF32(ts)) return undefined;
  return tf.engine().runKernel(FUSED_KERNELS.sumSquares, ts as unknown as tf.NamedTensorMap) as tf.Scalar;
}

/**
 * The Float32Array behind `t` when batchlab-native is active and no other tensor shares that storage
 * (backend refCount 1: no clone, reshape or saved copy of it exists), so it can be updated in place;
 * else undefined.
 */
function exclusiveStorage(t: tf.Tensor): Float32Array | undefined {
  if (!available(FUSED_KERNELS.momentum) || t.dtype !== 'float32') return undefined;
  const data = (tf.backend() as MathBackendCPU).data.get(t.dataId);
  return data.refCount === 1 && data.values instanceof Float32Array ? data.values : undefined;
}

/** The addon of the active backend when it is batchlab-native (NativeBackend carries it), else undefined. */
function activeAddon(): NativeAddon | undefined {
  return (tf.backend() as { nativeAddon?: NativeAddon }).nativeAddon;
}

/**
 * The storages of `state` (variables updated in place) and of `g`, when all are float32, unshared and
 * distinct, and `g` has their shape; else undefined.
 */
function inPlaceStorages(
  state: tf.Variable[],
  g: tf.Tensor,
): { state: Float32Array[]; g: Float32Array; addon: NativeAddon } | undefined {
  const a = activeAddon();
  const st = state.map(exclusiveStorage);
  if (!a || g.dtype !== 'float32' || !sameShapes([...state, g]) || st.some((v) => v === undefined)) return undefined;
  const gv = (tf.backend() as MathBackendCPU).data.get(g.dataId).values;
  const all = [...st, gv];
  if (!(gv instanceof Float32Array) || new Set(all).size !== all.length) return undefined;
  return { state: st as Float32Array[], g: gv, addon: a };
}

/*
 * The *InPlace updates write into the variables' own storage (no allocation: at B = 64 the new-output
 * momentum kernel allocated and zeroed 1.6 MB per MLP step, and V8 collects garbage by that volume;
 * measured 190 -> 70 us for the 784x256 kernel). Only when no other tensor shares that storage; they
 * return false otherwise, and the caller uses the fused* kernels or the op chain. Same arithmetic.
 */

export function sgdInPlace(w: tf.Variable, g: tf.Tensor, lr: number): boolean {
  const s = inPlaceStorages([w], g);
  if (!s) return false;
  const [wv] = s.state as [Float32Array];
  s.addon.sgdUpdate(wv, s.g, wv, wv.length, lr);
  return true;
}

export function momentumInPlace(w: tf.Variable, buf: tf.Variable, g: tf.Tensor, lr: number, mu: number): boolean {
  const s = inPlaceStorages([w, buf], g);
  if (!s) return false;
  const [wv, bv] = s.state as [Float32Array, Float32Array];
  s.addon.momentumUpdate(wv, bv, s.g, wv, bv, wv.length, lr, mu);
  return true;
}

export function adamInPlace(w: tf.Variable, m: tf.Variable, v: tf.Variable, g: tf.Tensor, k: AdamStep): boolean {
  const s = inPlaceStorages([w, m, v], g);
  if (!s) return false;
  const [wv, mv, vv] = s.state as [Float32Array, Float32Array, Float32Array];
  s.addon.adamUpdate(wv, mv, vv, s.g, wv, mv, vv, wv.length, k.lr, k.beta1, k.beta2, k.c1, k.c2, k.epsilon);
  return true;
}

/** w - lr g, or undefined. */
export function fusedSgd(w: tf.Tensor, g: tf.Tensor, lr: number): tf.Tensor | undefined {
  if (!available(FUSED_KERNELS.sgd) || !allF32([w, g]) || !tf.util.arraysEqual(w.shape, g.shape)) return undefined;
  return tf.engine().runKernel(FUSED_KERNELS.sgd, { w, g }, { lr }) as tf.Tensor;
}

/** [w - lr b', b'] with b' = mu b + g (PyTorch's SGD momentum, dampening 0), or undefined. */
export function fusedMomentum(
  w: tf.Tensor,
  buf: tf.Tensor,
  g: tf.Tensor,
  lr: number,
  mu: number,
): [tf.Tensor, tf.Tensor] | undefined {
  if (!available(FUSED_KERNELS.momentum) || !allF32([w, buf, g]) || !sameShapes([w, buf, g])) return undefined;
  return tf.engine().runKernel(FUSED_KERNELS.momentum, { w, buf, g }, { lr, mu }) as unknown as [tf.Tensor, tf.Tensor];
}

export interface AdamStep {
  lr: number;
  beta1: number;
  beta2: number;
  /** Bias corrections 1 - beta1^t and 1 - beta2^t. */
  c1: number;
  c2: number;
  epsilon: number;
}

/** [w', m', v'] of one Adam step (Kingma & Ba 2015, Alg. 1, as written in optimizers.ts), or undefined. */
export function fusedAdam(
  w: tf.Tensor,
  m: tf.Tensor,
  v: tf.Tensor,
  g: tf.Tensor,
  k: AdamStep,
): [tf.Tensor, tf.Tensor, tf.Tensor] | undefined {
  if (!available(FUSED_KERNELS.adam) || !allF32([w, m, v, g]) || !sameShapes([w, m, v, g])) return undefined;
  return tf.engine().runKernel(FUSED_KERNELS.adam, { w, m, v, g }, { ...k }) as unknown as [
    tf.Tensor,
    tf.Tensor,
    tf.Tensor,
  ];
}

/**
 * -mean_i log softmax(logits_i)[labels_i] for logits [B, C] and int32 labels [B], or undefined. A label
 * outside [0, C) adds 0 (tf.oneHot gives it a zero row). Differentiable in `logits`: the gradient
 * dy (softmax(logits) - onehot(labels)) / B comes from the probabilities saved by the forward kernel.
 */
export function fusedSoftmaxCrossEntropy(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar | undefined {
  if (!available(FUSED_KERNELS.softmaxXent) || logits.rank !== 2 || logits.dtype !== 'float32') return undefined;
  if (labels.rank !== 1 || labels.dtype !== 'int32' || labels.shape[0] !== logits.shape[0]) return undefined;
  const loss = tf.customGrad(((z: tf.Tensor, save: tf.GradSaveFunc) => {
    const [value, probs] = tf.engine().runKernel(FUSED_KERNELS.softmaxXent, { logits: z, labels }) as tf.Tensor[];
    // Labels are saved too: a caller may create them inside the forward pass, whose tidy ends before backprop.
    save([probs!, labels]);
    return {
      value: value!,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.engine().runKernel(FUSED_KERNELS.softmaxXentGrad, { dy, probs: saved[0]!, labels: saved[1]! }) as tf.Tensor,
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return loss(logits) as tf.Scalar;
}

function sameShapes(ts: tf.Tensor[]): boolean {
  return ts.every((t) => tf.util.arraysEqual(t.shape, ts[0]!.shape));
}

/**
 * The Relu gradient, dy * step(x), as one BatchlabReluGrad kernel (one pass, one output) where it is
 * registered for the active backend, else `original`'s (tfjs-core: Step, Cast, Multiply). Under
 * gradient recording TF.js never fuses bias and relu into the matmul or convolution, so every relu
 * layer's backward pass goes through here: the CNN at B = 256 spent ~3.5 ms per step in its Step and
 * Multiply. Wraps the gradient registered for Relu; wrapping twice is a no-op.
 */
export function fusedReluGradConfig(original: tf.GradConfig): tf.GradConfig {
  if ((original as { fusedByBatchlab?: boolean }).fusedByBatchlab) return original;
  return Object.assign(
    {
      ...original,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
        const [x] = saved;
        const g = dy as tf.Tensor;
        if (x === undefined || !available(FUSED_KERNELS.reluGrad) || !allF32([g, x]))
          return original.gradFunc(dy, saved, attrs);
        return {
          x: () =>
            tf.engine().runKernel(FUSED_KERNELS.reluGrad, { dy: g, x } as unknown as tf.NamedTensorMap) as tf.Tensor,
        };
      },
    },
    { fusedByBatchlab: true },
  );
}
