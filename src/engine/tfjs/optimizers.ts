/**
 * Optimizers written as plain TF.js ops, so batchlab controls the learning rate per step and the
 * exact update rule (and a native backend can run them with its own element-wise kernels).
 *
 * Conventions follow PyTorch, so runs can be compared with it:
 * - SGD:       w <- w - lr g
 * - momentum:  v <- mu v + g;  w <- w - lr v            (torch.optim.SGD with momentum, dampening 0)
 * - Adam:      m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2;
 *              w <- w - lr (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)   (Kingma & Ba 2015, Alg. 1)
 *
 * On batchlab-native each variable's update is one fused pass (native-ops.ts), in place when the variable
 * owns its storage, with the same fp32 rounding order; other backends run the op chains below.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  adamInPlace,
  fusedAdam,
  fusedMomentum,
  fusedSgd,
  momentumInPlace,
  sgdInPlace,
} from '../backends/native-ops.js';
import { UsageError } from '../../core/errors.js';
import { assertOptimizerName, type OptimizerConfig } from '../../core/run.js';

/** Applies one update to `vars` from `grads` (same order) at learning rate `lr`. Owns its state tensors. */
export interface Optimizer {
  apply(vars: tf.Variable[], grads: tf.Tensor[], lr: number): void;
  /** Frees the state (momentum buffers, Adam moments). */
  dispose(): void;
  /**
   * The state for a checkpoint: its tensors in a fixed order (momentum: one buffer per variable; Adam:
   * m_i then v_i for each variable; none before the first update) and the updates made (Adam's t).
   */
  exportState(): { slots: tf.Tensor[]; steps: number };
  /** Sets the state from a checkpoint (slots in exportState's order; none: as before the first update). */
  importState(vars: readonly tf.Variable[], state: { slots: readonly Float32Array[]; steps: number }): void;
}

export function createOptimizer(config: OptimizerConfig): Optimizer {
  assertOptimizerName(config.name);
  if (config.name === 'sgd') return sgd();
  if (config.name === 'momentum') return momentum(config.momentum ?? 0.9);
  return adam(config.beta1 ?? 0.9, config.beta2 ?? 0.999, config.epsilon ?? 1e-8);
}

function sgd(): Optimizer {
  return {
    apply(vars, grads, lr) {
      tf.tidy(() =>
        vars.forEach(
          (v, i) =>
            sgdInPlace(v, grads[i]!, lr) || v.assign(fusedSgd(v, grads[i]!, lr) ?? tf.sub(v, tf.mul(grads[i]!, lr))),
        ),
      );
    },
    dispose() {},
    exportState: () => ({ slots: [], steps: 0 }),
    importState: (_vars, state) => checkSlotCount('sgd', state.slots, 0),
  };
}

function momentum(mu: number): Optimizer {
  let buffers: tf.Variable[] | undefined;
  return {
    apply(vars, grads, lr) {
      buffers ??= vars.map((v) => zeroState(v));
      const bufs = buffers;
      tf.tidy(() =>
        vars.forEach((v, i) => {
          if (momentumInPlace(v, bufs[i]!, grads[i]!, lr, mu)) return;
          const fused = fusedMomentum(v, bufs[i]!, grads[i]!, lr, mu);
          if (fused) {
            v.assign(fused[0]);
            bufs[i]!.assign(fused[1]);
            return;
          }
          bufs[i]!.assign(tf.add(tf.mul(bufs[i]!, mu), grads[i]!));
          v.assign(tf.sub(v, tf.mul(bufs[i]!, lr)));
        }),
      );
    },
    dispose() {
      tf.dispose(buffers);
      buffers = undefined;
    },
    exportState: () => ({ slots: buffers ?? [], steps: 0 }),
    importState(vars, state) {
      tf.dispose(buffers);
      buffers = state.slots.length === 0 ? undefined : vars.map((v, i) => stateVariable(v, state.slots[i]));
      checkSlotCount('momentum', state.slots, buffers && vars.length);
    },
  };
}

function adam(beta1: number, beta2: number, epsilon: number): Optimizer {
  let moments: { m: tf.Variable; v: tf.Variable }[] | undefined;
  let t = 0;
  return {
    apply(vars, grads, lr) {
      moments ??= vars.map((w) => ({ m: zeroState(w), v: zeroState(w) }));
      const state = moments;
      t += 1;
      const c1 = 1 - beta1 ** t;
      const c2 = 1 - beta2 ** t;
      tf.tidy(() =>
        vars.forEach((w, i) => {
          const g = grads[i]!;
          const { m, v } = state[i]!;
          const k = { lr, beta1, beta2, c1, c2, epsilon };
          if (adamInPlace(w, m, v, g, k)) return;
          const fused = fusedAdam(w, m, v, g, k);
          if (fused) {
            w.assign(fused[0]);
            m.assign(fused[1]);
            v.assign(fused[2]);
            return;
          }
          m.assign(tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1)));
          v.assign(tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2)));
          const step = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), epsilon));
          w.assign(tf.sub(w, tf.mul(step, lr)));
        }),
      );
    },
    dispose() {
      if (moments) tf.dispose(moments.flatMap(({ m, v }) => [m, v]));
      moments = undefined;
    },
    exportState: () => ({ slots: moments?.flatMap(({ m, v }) => [m, v]) ?? [], steps: t }),
    importState(vars, state) {
      if (moments) tf.dispose(moments.flatMap(({ m, v }) => [m, v]));
      const s = state.slots;
      moments =
        s.length === 0
          ? undefined
          : vars.map((w, i) => ({ m: stateVariable(w, s[2 * i]), v: stateVariable(w, s[2 * i + 1]) }));
      checkSlotCount('adam', s, moments && 2 * vars.length);
      t = state.steps;
    },
  };
}

/** A non-trainable variable shaped like `v` holding `values` (from a checkpoint). */
function stateVariable(v: tf.Variable, values: Float32Array | undefined): tf.Variable {
  if (values === undefined || values.length !== v.size)
    throw new UsageError(
      `checkpoint optimizer state does not fit a variable of shape [${v.shape}] (${values?.length ?? 0} values)`,
    );
  return tf.tidy(() => tf.variable(tf.tensor(values, v.shape, 'float32'), false));
}

/** A checkpoint's optimizer holds as many slots as this optimizer keeps (0 before its first update). */
function checkSlotCount(name: string, slots: readonly Float32Array[], expected: number | undefined): void {
  if (slots.length !== (expected ?? 0))
    throw new UsageError(`checkpoint holds ${slots.length} ${name} state tensors, the model needs ${expected ?? 0}`);
}

/** A non-trainable zero variable shaped like `v`; tidy frees the temporary zeros (variables survive tidy). */
function zeroState(v: tf.Variable): tf.Variable {
  return tf.tidy(() => tf.variable(tf.zerosLike(v), false));
}
