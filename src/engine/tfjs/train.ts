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
import { epochOrder, makeBatches, microRanges, planAccumulation, type BatchRange } from '../../core/batching.js';
import { DivergedError } from '../../core/errors.js';
import type { EvalRecord, StepRecord } from '../../core/types.js';
import type { Dataset } from '../../data/types.js';
import { buildModel, type BuiltModel, type ModelSpec } from '../../models/index.js';
import { TRAIN_LOSS_EVAL_SAMPLES, type TrainResult } from '../../core/run.js';
import type { TrainHooks, TrainSettings } from '../trainer.js';
import { fusedSumSquares } from '../backends/native-ops.js';
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
  /**
   * The dataset's splits as tensors, made by the caller and kept by it (a warm worker reuses them from
   * run to run: tensors are immutable, so no run can change what the next one sees). Default: made
   * here from `data` and disposed at the end.
   */
  tensors?: DataTensors;
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
  /** Whether the split tensors are this run's own (disposed at its end) or the caller's. */
  ownsTensors: boolean;
}

/** Trains one model on one dataset with one batch size and returns every measured step. */
export async function trainTfjs(opts: TfjsTrainOptions): Promise<TrainResult> {
  const { data, settings } = opts;
  const plan = planAccumulation({ batchSize: settings.batchSize, accumSteps: settings.accumSteps });
  const startMs = performance.now();
  const state = await openRun(opts);
  const setupMs = performance.now() - startMs;
  let evalMs = 0;
  /** An evaluation, its time added to the run's evaluation phase. */
  const timedEval = (split: SplitTensors, limit?: number) => {
    const t0 = performance.now();
    const metrics = evaluate(state.built, split, state.lossFn, limit);
    evalMs += performance.now() - t0;
    return metrics;
  };
  try {
    const steps: StepRecord[] = [];
    const evals: EvalRecord[] = [];
    const loop = {
      step: 0,
      samples: 0,
      trainMs: 0,
      status: 'done' as TrainResult['status'],
      reached: undefined as TrainResult['reachedTarget'],
    };
    const record = (rec: EvalRecord) => {
      evals.push(rec);
      opts.hooks?.onEval?.(rec);
      if (!loop.reached && settings.target && meetsTarget(rec, settings)) {
        loop.reached = { step: rec.step, samples: rec.samples, wallMs: performance.now() - startMs };
      }
    };
    // A step-0 evaluation gives every curve its starting point.
    if (settings.evalEvery > 0)
      record({
        step: 0,
        samples: 0,
        split: 'test',
        ...timedEval(state.test, settings.evalTestLimit),
      });
    let lastYieldMs = performance.now();
    const batchesPerEpoch = makeBatches(data.train.count, plan.batchSize, settings.lastBatch).length;
    epochs: for (let epoch = 0; batchesPerEpoch > 0; epoch++) {
      const order = epochOrder(data.train.count, settings.seed, epoch);
      for (const range of makeBatches(data.train.count, plan.batchSize, settings.lastBatch)) {
        if (budgetSpent(settings, loop.step, loop.samples, epoch)) break epochs;
        lastYieldMs = await yieldToEventLoop(lastYieldMs);
        if (opts.hooks?.signal?.aborted) {
          loop.status = 'interrupted';
          break epochs;
        }
        const step = loop.step + 1;
        const microBatchSize =
          step >= (settings.noiseFromStep ?? 1)
            ? microBatchFor(step, range, plan.microBatchSize, settings.noiseEvery)
            : plan.microBatchSize;
        const rec = await runStep(state, {
          order,
          range,
          microBatchSize,
          step,
          lr: settings.lrAt(step),
          samplesBefore: loop.samples,
        });
        loop.step = rec.step;
        loop.samples = rec.samples;
        loop.trainMs += rec.stepMs;
        steps.push(rec);
        opts.hooks?.onStep?.(rec);
        opts.hooks?.onProgress?.(rec);
        if (settings.evalEvery > 0 && loop.step % settings.evalEvery === 0) {
          record({
            step: loop.step,
            samples: loop.samples,
            split: 'test',
            ...timedEval(state.test, settings.evalTestLimit),
          });
          if (settings.target?.metric === 'train-loss')
            record({
              step: loop.step,
              samples: loop.samples,
              split: 'train',
              ...evaluate(state.built, state.train, state.lossFn, TRAIN_LOSS_EVAL_SAMPLES),
            });
          if (loop.reached) {
            loop.status = 'target-reached';
            break epochs;
          }
        }
      }
    }
    const test = timedEval(state.test);
    if (evals.at(-1)?.step !== loop.step) record({ step: loop.step, samples: loop.samples, split: 'test', ...test });
    if (loop.reached && loop.status === 'done') loop.status = 'target-reached';
    const train = timedEval(state.train, settings.evalTrainLimit);
    evals.push({ step: loop.step, samples: loop.samples, split: 'train', ...train });
    const sharpnessStartMs = performance.now();
    const estimate =
      settings.sharpness &&
      topHessianEigenvalue({
        built: state.built,
        vars: state.vars,
        train: state.train,
        lossFn: state.lossFn,
        ...settings.sharpness,
        seed: settings.seed,
      });
    const sharpness = settings.sharpness &&
      estimate && {
        ...settings.sharpness,
        topEigenvalue: estimate.topEigenvalue,
        method: 'lanczos' as const,
        products: estimate.products,
      };
    const sharpnessMs = performance.now() - sharpnessStartMs;
    const wallMs = performance.now() - startMs;
    return {
      status: loop.status,
      steps,
      evals,
      final: { train, test },
      trainMs: loop.trainMs,
      wallMs,
      samples: loop.samples,
      peakBytes: steps.reduce((m, s) => Math.max(m, s.peakBytes), 0),
      distanceFromInit: distanceFromInit(state),
      sharpness,
      reachedTarget: loop.reached,
      phasesMs: {
        setup: setupMs,
        train: loop.trainMs,
        eval: evalMs,
        ...(sharpness ? { sharpness: sharpnessMs } : {}),
        other: Math.max(0, wallMs - setupMs - loop.trainMs - evalMs - (sharpness ? sharpnessMs : 0)),
      },
      weights: opts.returnWeights ? state.vars.map((v) => v.dataSync() as Float32Array) : undefined,
    };
  } finally {
    closeRun(state);
  }
}

async function openRun(opts: TfjsTrainOptions): Promise<RunState> {
  const built = await buildModel(opts.model, opts.data, opts.settings.seed);
  const { train, test } = opts.tensors ?? dataTensors(opts.data);
  const vars = built.model.trainableWeights.map((w) => w.read() as tf.Variable);
  return {
    built,
    vars,
    initial: vars.map((v) => tf.clone(v)),
    train,
    test,
    optimizer: createOptimizer(opts.settings.optimizer),
    lossFn: makeLossFn(opts.data, built),
    dataBytes: [train.x, train.y, test.x, test.y].reduce((n, t) => n + t.size * 4, 0),
    peaks: new Map(),
    ownsTensors: opts.tensors === undefined,
  };
}

function closeRun(state: RunState): void {
  state.optimizer.dispose();
  tf.dispose(state.initial);
  if (state.ownsTensors) disposeDataTensors(state);
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

function budgetSpent(settings: TrainSettings, step: number, samples: number, epoch: number): boolean {
  const { epochs, maxSteps, maxSamples } = settings.budget;
  return (
    (epochs !== undefined && epoch >= epochs) ||
    (maxSteps !== undefined && step >= maxSteps) ||
    (maxSamples !== undefined && samples >= maxSamples)
  );
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
