/**
 * batchlab's own TF.js training loop (not `model.fit`), so that every step can be measured.
 *
 * One step = k micro-batches of b samples: forward, loss, gradients for each; the micro-batch gradients
 * are averaged, weighted by their sample counts (a plain mean when all have b samples), and one optimizer
 * update is made. Each step records |g|^2 of the applied gradient and the mean |g_micro|^2 of its
 * micro-batch gradients: the two squared norms the gradient-noise-scale estimator needs
 * (McCandlish et al. 2018, App. A).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  budgetSpent,
  epochOrder,
  type EpochPosition,
  microRanges,
  planAccumulation,
  resumedOrder,
  takeBatch,
  type BatchRange,
} from '../../core/batching.js';
import { DivergedError } from '../../core/errors.js';
import type { EvalRecord, StepRecord } from '../../core/types.js';
import type { Dataset } from '../../data/types.js';
import { buildModel, type BuiltModel, type ModelSpec } from '../../models/index.js';
import { TRAIN_LOSS_EVAL_SAMPLES, type TrainResult } from '../../core/run.js';
import type { TrainHooks, TrainSettings } from '../trainer.js';
import { fusedSumSquares } from '../backends/native-ops.js';
import { decodeCheckpoint, encodeCheckpoint, restoreCheckpoint } from './checkpoint.js';
import { createOptimizer, type Optimizer } from './optimizers.js';
import { topHessianEigenvalue } from './sharpness.js';
import { batchLoss, evaluate, makeLossFn, takeRows, toTensors, type LossFn, type SplitTensors } from './tensors.js';

export interface TfjsTrainOptions {
  data: Dataset;
  model: ModelSpec;
  settings: TrainSettings;
  hooks?: TrainHooks;
  /** Return the final weights in the result (for tests). */
  returnWeights?: boolean;
}

/** Everything one run holds; disposed together in `finally`. */
interface RunState {
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
  /** The epoch and the next position in its order; the order of the current epoch. */
  position: EpochPosition;
  order: Int32Array;
  /** Steps done and samples seen before this run's first step (a resumed run's checkpoint). */
  start: { step: number; samples: number; lr: number; batchSize: number };
}

/** The loop's progress; what the result is built from. */
interface Loop {
  step: number;
  samples: number;
  trainMs: number;
  status: TrainResult['status'];
  reached: TrainResult['reachedTarget'];
  steps: StepRecord[];
  evals: EvalRecord[];
}

/** Trains one model on one dataset (from its start or a checkpoint) and returns every measured step. */
export async function trainTfjs(opts: TfjsTrainOptions): Promise<TrainResult> {
  const startMs = performance.now();
  const state = await openRun(opts);
  try {
    const loop = await trainSteps(state, opts, startMs);
    return finishRun(state, opts, loop, startMs);
  } finally {
    closeRun(state);
  }
}

/** The batch of step `step`: the schedule's (settings.planAt) or the fixed plan's. */
function planOf(settings: TrainSettings, step: number): { batchSize: number; microBatchSize: number } {
  if (settings.planAt) return settings.planAt(step);
  const plan = planAccumulation({ batchSize: settings.batchSize, accumSteps: settings.accumSteps });
  return { batchSize: plan.batchSize, microBatchSize: plan.microBatchSize };
}

/**
 * The steps, until the budget is spent, the target reached or the signal aborts. Each step takes the
 * next batch of the epoch's order (core/batching.takeBatch), so a fixed batch walks makeBatches epoch
 * after epoch and a schedule changes the size between steps.
 */
async function trainSteps(state: RunState, opts: TfjsTrainOptions, startMs: number): Promise<Loop> {
  const { settings, hooks } = opts;
  const n = opts.data.train.count;
  const loop: Loop = { ...state.start, trainMs: 0, status: 'done', reached: undefined, steps: [], evals: [] };
  const evaluateNow = () =>
    recordEval(loop, opts, startMs, {
      step: loop.step,
      samples: loop.samples,
      split: 'test',
      ...evaluate(state.built, state.test, state.lossFn, settings.evalTestLimit),
    });
  // An evaluation where the run starts gives every curve its starting point.
  if (settings.evalEvery > 0) evaluateNow();
  let lastYieldMs = performance.now();
  for (;;) {
    const step = loop.step + 1;
    const planned = planOf(settings, step);
    const next = takeBatch(state.position, n, planned.batchSize, settings.lastBatch);
    if (budgetSpent(settings.budget, loop.step, loop.samples, next.epoch)) break;
    lastYieldMs = await yieldToEventLoop(lastYieldMs);
    if (hooks?.signal?.aborted) {
      loop.status = 'interrupted';
      break;
    }
    if (next.epoch !== state.position.epoch) state.order = epochOrder(n, settings.seed, next.epoch);
    state.position = { epoch: next.epoch, cursor: next.range[1] };
    const microBatchSize =
      step >= (settings.noiseFromStep ?? 1)
        ? microBatchFor(step, next.range, planned.microBatchSize, settings.noiseEvery)
        : planned.microBatchSize;
    const rec = await runStep(state, {
      order: state.order,
      range: next.range,
      microBatchSize,
      step,
      lr: settings.lrAt(step),
      samplesBefore: loop.samples,
    });
    loop.step = rec.step;
    loop.samples = rec.samples;
    loop.trainMs += rec.stepMs;
    loop.steps.push(rec);
    hooks?.onStep?.(rec);
    hooks?.onProgress?.(rec);
    if (settings.evalEvery > 0 && loop.step % settings.evalEvery === 0) {
      evaluateNow();
      if (settings.target?.metric === 'train-loss')
        recordEval(loop, opts, startMs, {
          step: loop.step,
          samples: loop.samples,
          split: 'train',
          ...evaluate(state.built, state.train, state.lossFn, TRAIN_LOSS_EVAL_SAMPLES),
        });
      if (loop.reached) {
        loop.status = 'target-reached';
        break;
      }
    }
  }
  return loop;
}

/** Keeps an evaluation, tells the hooks, and notes where the target was first reached. */
function recordEval(loop: Loop, opts: TfjsTrainOptions, startMs: number, rec: EvalRecord): void {
  loop.evals.push(rec);
  opts.hooks?.onEval?.(rec);
  if (!loop.reached && opts.settings.target && meetsTarget(rec, opts.settings)) {
    loop.reached = { step: rec.step, samples: rec.samples, wallMs: performance.now() - startMs };
  }
}

/** The final evaluations, the checkpoint when asked for, and the result. */
function finishRun(state: RunState, opts: TfjsTrainOptions, loop: Loop, startMs: number): TrainResult {
  const { settings } = opts;
  const test = evaluate(state.built, state.test, state.lossFn);
  if (loop.evals.at(-1)?.step !== loop.step)
    recordEval(loop, opts, startMs, { step: loop.step, samples: loop.samples, split: 'test', ...test });
  if (loop.reached && loop.status === 'done') loop.status = 'target-reached';
  const train = evaluate(state.built, state.train, state.lossFn, settings.evalTrainLimit);
  loop.evals.push({ step: loop.step, samples: loop.samples, split: 'train', ...train });
  if (settings.saveCheckpoint) saveCheckpoint(state, settings, loop);
  const steps = loop.steps;
  return {
    status: loop.status,
    steps,
    evals: loop.evals,
    final: { train, test },
    trainMs: loop.trainMs,
    wallMs: performance.now() - startMs,
    samples: loop.samples,
    peakBytes: steps.reduce((m, s) => Math.max(m, s.peakBytes), 0),
    distanceFromInit: distanceFromInit(state),
    sharpness: settings.sharpness
      ? {
          ...settings.sharpness,
          topEigenvalue: topHessianEigenvalue({
            built: state.built,
            vars: state.vars,
            train: state.train,
            lossFn: state.lossFn,
            ...settings.sharpness,
            seed: settings.seed,
          }),
        }
      : undefined,
    reachedTarget: loop.reached,
    weights: opts.returnWeights ? state.vars.map((v) => v.dataSync() as Float32Array) : undefined,
  };
}

/** Hands the final state to settings.saveCheckpoint as checkpoint bytes. */
function saveCheckpoint(state: RunState, settings: TrainSettings, loop: Loop): void {
  const last = loop.steps.at(-1);
  const bytes = encodeCheckpoint({
    meta: {
      step: loop.step,
      samples: loop.samples,
      epoch: state.position.epoch,
      cursor: state.position.cursor,
      seed: settings.seed,
      trainCount: state.train.count,
      optimizer: settings.optimizer,
      lr: last?.lr ?? state.start.lr,
      batchSize: last?.batchSize ?? state.start.batchSize,
    },
    vars: state.vars,
    initial: state.initial,
    optimizer: state.optimizer,
    order: state.order,
  });
  settings.saveCheckpoint!(bytes, { step: loop.step, samples: loop.samples });
}

async function openRun(opts: TfjsTrainOptions): Promise<RunState> {
  const { settings } = opts;
  const built = await buildModel(opts.model, opts.data, settings.seed);
  const train = toTensors(opts.data, 'train');
  const test = toTensors(opts.data, 'test');
  const vars = built.model.trainableWeights.map((w) => w.read() as tf.Variable);
  const optimizer = createOptimizer(settings.optimizer);
  const state: RunState = {
    built,
    vars,
    initial: [],
    train,
    test,
    optimizer,
    lossFn: makeLossFn(opts.data, built),
    dataBytes: [train.x, train.y, test.x, test.y].reduce((n, t) => n + t.size * 4, 0),
    peaks: new Map(),
    position: { epoch: 0, cursor: 0 },
    order: epochOrder(train.count, settings.seed, 0),
    start: { step: 0, samples: 0, lr: 0, batchSize: 0 },
  };
  try {
    if (settings.resumeFrom) resume(state, settings, settings.resumeFrom);
    else state.initial = vars.map((v) => tf.clone(v));
  } catch (err) {
    closeRun(state);
    throw err;
  }
  return state;
}

/** Puts a checkpoint's state into a freshly opened run (tfjs/checkpoint.ts). */
function resume(state: RunState, settings: TrainSettings, from: { bytes: Uint8Array; file: string }): void {
  const cp = decodeCheckpoint(from.bytes, from.file);
  state.initial = restoreCheckpoint(
    cp,
    {
      vars: state.vars,
      optimizer: state.optimizer,
      optimizerConfig: settings.optimizer,
      trainCount: state.train.count,
    },
    from.file,
  );
  const m = cp.meta;
  state.position = { epoch: m.epoch, cursor: m.cursor };
  state.order = resumedOrder(cp.order, { cursor: m.cursor, savedSeed: m.seed, seed: settings.seed, epoch: m.epoch });
  state.start = { step: m.step, samples: m.samples, lr: m.lr, batchSize: m.batchSize };
}

function closeRun(state: RunState): void {
  state.optimizer.dispose();
  tf.dispose([...state.initial, state.train.x, state.train.y, state.test.x, state.test.y]);
  state.built.model.dispose();
}

/**
 * The micro-batch of step `step`: the plan's, or, on a noise-measurement step of a plan without
 * accumulation, half the batch (rounded up), so the step carries two batch sizes.
 */
function microBatchFor(step: number, range: BatchRange, planned: number, noiseEvery = 0): number {
  const size = range[1] - range[0];
  if (planned < size || noiseEvery <= 0 || step % noiseEvery !== 0 || size < 2) return planned;
  return Math.ceil(size / 2);
}

/** How often the loop lets Node handle I/O and signals (Ctrl-C, a lost parent). */
const YIELD_EVERY_MS = 50;

/**
 * The loop only awaits already-settled promises, which never give timers, I/O or signal handlers a turn;
 * a setImmediate every YIELD_EVERY_MS does, at no measurable cost. Returns the time of the last yield.
 */
async function yieldToEventLoop(lastMs: number): Promise<number> {
  const now = performance.now();
  if (now - lastMs < YIELD_EVERY_MS) return lastMs;
  await new Promise((resolve) => setImmediate(resolve));
  return performance.now();
}

/**
 * Whether an evaluation meets the target: a held-out one for 'accuracy' and 'loss', one on the fixed
 * training subset (TRAIN_LOSS_EVAL_SAMPLES rows, in inference mode) for 'train-loss'.
 */
function meetsTarget(rec: EvalRecord, settings: TrainSettings): boolean {
  const target = settings.target!;
  if (rec.split !== (target.metric === 'train-loss' ? 'train' : 'test')) return false;
  return target.metric === 'accuracy' ? (rec.accuracy ?? 0) >= target.value : rec.loss <= target.value;
}

interface StepInput {
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
async function runStep(state: RunState, input: StepInput): Promise<StepRecord> {
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

function distanceFromInit(state: RunState): number {
  return Math.sqrt(tf.tidy(() => sqNorm(state.vars.map((v, i) => tf.sub(v, state.initial[i]!))).dataSync()[0]!));
}
