/**
 * One update of batchlab's TF.js training loop, and the state a run holds while it trains. Nothing here is
 * Node-only (no file system, no native addon import, no Node timers): train.ts runs these steps in its loop,
 * and the browser playground (web/src/playground) drives them directly, several runs side by side.
 *
 * One step = k micro-batches of b samples: forward, loss, gradients for each; the micro-batch gradients
 * are averaged, weighted by their sample counts (a plain mean when all have b samples), and one optimizer
 * update is made. Each step records |g|^2 of the applied gradient and the mean |g_micro|^2 of its
 * micro-batch gradients: the two squared norms the gradient-noise-scale estimator needs
 * (McCandlish et al. 2018, App. A).
 */
import * as tf from '@tensorflow/tfjs-core';
import { microRanges, type BatchRange } from '../../core/batching.js';
import { DivergedError } from '../../core/errors.js';
import type { OptimizerConfig } from '../../core/run.js';
import type { StepRecord } from '../../core/types.js';
import type { Dataset } from '../../data/types.js';
import type { BuiltModel } from '../../models/built-in.js';
import { fusedSumSquares } from '../backends/native-ops.js';
import { createOptimizer, type Optimizer } from './optimizers.js';
import { batchLoss, makeLossFn, takeRows, toTensors, type LossFn, type SplitTensors } from './tensors.js';

/** Everything one run holds; disposed together in `finally`. */
export interface RunState {
  built: BuiltModel;
  vars: tf.Variable[];
  initial: tf.Tensor[];
  train: SplitTensors;
  test: SplitTensors;
  optimizer: Optimizer;
  lossFn: LossFn;
  /** Bytes of the dataset tensors, subtracted from the step's high-water mark. */
  dataBytes: number;
  /** Last measured tensor peak per step shape ("batch/micro-batch"). */
  peaks: Map<string, number>;
  /** Whether the split tensors are this run's own (disposed at its end) or the caller's. */
  ownsTensors: boolean;
}

/** The training and held-out splits of a dataset as resident tensors. */
export interface DataTensors {
  train: SplitTensors;
  test: SplitTensors;
}

/** The splits of `data` as tensors (dispose them with disposeDataTensors). */
export function dataTensors(data: Dataset): DataTensors {
  return { train: toTensors(data, 'train'), test: toTensors(data, 'test') };
}

export function disposeDataTensors(t: DataTensors): void {
  tf.dispose([t.train.x, t.train.y, t.test.x, t.test.y]);
}

/** What a run starts from: the data, the model built with its seeded initial weights, the optimizer. */
export interface OpenRunOptions {
  data: Dataset;
  built: BuiltModel;
  optimizer: OptimizerConfig;
  /**
   * The dataset's splits as tensors, made by the caller and kept by it (a warm worker reuses them from
   * run to run: tensors are immutable, so no run can change what the next one sees). Default: made
   * here from `data` and disposed by closeRun.
   */
  tensors?: DataTensors;
}

/**
 * Puts the data on the backend (unless the caller's tensors are given) and sets up the optimizer; the run
 * owns `built` from here (closeRun disposes it).
 */
export function openRunState(opts: OpenRunOptions): RunState {
  const { built } = opts;
  const { train, test } = opts.tensors ?? dataTensors(opts.data);
  const vars = built.model.trainableWeights.map((w) => w.read() as tf.Variable);
  return {
    built,
    vars,
    initial: vars.map((v) => tf.clone(v)),
    train,
    test,
    optimizer: createOptimizer(opts.optimizer),
    lossFn: makeLossFn(opts.data, built),
    dataBytes: [train.x, train.y, test.x, test.y].reduce((n, t) => n + t.size * 4, 0),
    peaks: new Map(),
    ownsTensors: opts.tensors === undefined,
  };
}

/** Frees everything a run holds: optimizer state, initial-weight tensors, its own data tensors, the model. */
export function closeRun(state: RunState): void {
  state.optimizer.dispose();
  tf.dispose(state.initial);
  if (state.ownsTensors) disposeDataTensors(state);
  state.built.model.dispose();
}

/**
 * The micro-batch of step `step`: the plan's, or, on a noise-measurement step of a plan without
 * accumulation, half the batch (rounded up), so the step carries two batch sizes.
 */
export function microBatchFor(step: number, range: BatchRange, planned: number, noiseEvery = 0): number {
  const size = range[1] - range[0];
  if (planned < size || noiseEvery <= 0 || step % noiseEvery !== 0 || size < 2) return planned;
  return Math.ceil(size / 2);
}

/** What one update needs: the epoch's sample order, the batch's range in it, the micro-batch, the LR. */
export interface StepInput {
  order: Int32Array;
  range: BatchRange;
  microBatchSize: number;
  step: number;
  lr: number;
  samplesBefore: number;
}

/** Steps between two memory profiles of the same step shape (batch, micro-batch). */
const PROFILE_EVERY_STEPS = 100;

/**
 * One update. The tensor high-water mark comes from `tf.profile`, minus the resident dataset tensors:
 * what remains is weights, optimizer state, activations and gradients, the part that grows with B.
 * Profiling is not free (TF.js times every kernel and scans its outputs), so it runs on the first step of
 * each step shape (batch, micro-batch) and every PROFILE_EVERY_STEPS steps; the other steps carry the last
 * peak measured for their shape. The profiled steps are slower; throughput statistics use medians.
 */
export async function runStep(state: RunState, input: StepInput): Promise<StepRecord> {
  const t0 = performance.now();
  let sums: Float32Array | undefined;
  const shape = `${input.range[1] - input.range[0]}/${input.microBatchSize}`;
  let peakBytes = state.peaks.get(shape);
  if (peakBytes === undefined || input.step % PROFILE_EVERY_STEPS === 0) {
    const profile = await tf.profile(() => {
      sums = computeAndApply(state, input);
    });
    peakBytes = Math.max(0, profile.peakBytes - state.dataBytes);
    state.peaks.set(shape, peakBytes);
  } else {
    sums = computeAndApply(state, input);
  }
  const stepMs = performance.now() - t0;
  const [lossSum, gradSqNorm, microSqSum] = sums!;
  const batchSize = input.range[1] - input.range[0];
  const micro = microRanges(input.range, input.microBatchSize);
  const loss = lossSum! / batchSize;
  if (!Number.isFinite(loss)) throw new DivergedError(input.step, input.lr, loss);
  return {
    step: input.step,
    samples: input.samplesBefore + batchSize,
    loss,
    lr: input.lr,
    stepMs,
    batchSize,
    microBatchSize: input.microBatchSize,
    accumSteps: micro.length,
    gradSqNorm: gradSqNorm!,
    microGradSqNorm: microSqSum! / micro.length,
    peakBytes,
  };
}

/**
 * Gradients of each micro-batch, their weighted mean, one optimizer update. Returns
 * [sum of per-sample losses, |g|^2 of the applied gradient, sum over micro-batches of |g_micro|^2]
 * in one read-back, so the step syncs with the backend once.
 */
function computeAndApply(state: RunState, input: StepInput): Float32Array {
  const micro = microRanges(input.range, input.microBatchSize);
  if (micro.length === 1) return applySingle(state, input);
  const total = input.range[1] - input.range[0];
  let acc: tf.Tensor[] | undefined;
  let lossSum: tf.Tensor = tf.scalar(0);
  let microSq: tf.Tensor = tf.scalar(0);
  for (const [s, e] of micro) {
    const { value, g } = microGradients(state, input.order.subarray(s, e));
    const weight = (e - s) / total;
    const next = tf.tidy(() => ({
      acc: g.map((gi, i) => (acc ? tf.add(acc[i]!, tf.mul(gi, weight)) : tf.mul(gi, weight))),
      lossSum: tf.add(lossSum, tf.mul(value, e - s)),
      microSq: tf.add(microSq, sqNorm(g)),
    }));
    tf.dispose([value, ...g, ...(acc ?? []), lossSum, microSq]);
    ({ acc, lossSum, microSq } = next);
  }
  try {
    state.optimizer.apply(state.vars, acc!, input.lr);
    return tf.tidy(() => tf.stack([lossSum, sqNorm(acc!), microSq]).dataSync() as Float32Array);
  } finally {
    tf.dispose([...acc!, lossSum, microSq]);
  }
}

/** The common case, one pass per update: no accumulation buffers, and |g|^2 computed once for both fields. */
function applySingle(state: RunState, input: StepInput): Float32Array {
  const rows = input.order.subarray(input.range[0], input.range[1]);
  const { value, g } = microGradients(state, rows);
  try {
    state.optimizer.apply(state.vars, g, input.lr);
    return tf.tidy(() => {
      const sq = sqNorm(g);
      return tf.stack([tf.mul(value, rows.length), sq, sq]).dataSync() as Float32Array;
    });
  } finally {
    tf.dispose([value, ...g]);
  }
}

/** Mean loss and its gradient (one tensor per variable) on the training rows `rows`. */
function microGradients(state: RunState, rows: Int32Array): { value: tf.Scalar; g: tf.Tensor[] } {
  const idx = tf.tensor1d(rows, 'int32');
  const batch = takeRows(state.train, idx);
  try {
    const { value, grads } = tf.variableGrads(() => batchLoss(state.built.model, batch, state.lossFn), state.vars);
    return { value, g: state.vars.map((v) => grads[v.name]!) };
  } finally {
    tf.dispose([idx, batch.x, batch.y]);
  }
}

/** Sum of squares over a list of tensors: |g|^2 for a gradient split across variables (one kernel on batchlab-native). */
function sqNorm(ts: tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => fusedSumSquares(ts) ?? (tf.addN(ts.map((t) => tf.sum(tf.square(t)))) as tf.Scalar));
}

/** |w - w_init| over all trainable variables (Hoffer et al. 2017). */
export function distanceFromInit(state: RunState): number {
  return Math.sqrt(tf.tidy(() => sqNorm(state.vars.map((v, i) => tf.sub(v, state.initial[i]!))).dataSync()[0]!));
}
