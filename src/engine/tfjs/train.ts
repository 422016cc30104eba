/**
 * batchlab's own TF.js training loop (not `model.fit`), so that every step can be measured: budget,
 * evaluations, target, checkpoints, batch-size schedules and the end-of-run measurements around the steps
 * of step.ts (one update each, with |g|^2 at two batch sizes for the gradient noise scale). step.ts stays
 * free of Node-only code for the browser playground; what needs Node (timers, checkpoints) lives here.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  budgetSpent,
  epochOrder,
  type EpochPosition,
  planAccumulation,
  resumedOrder,
  takeBatch,
} from '../../core/batching.js';
import type { EvalRecord, StepRecord } from '../../core/types.js';
import type { Dataset } from '../../data/types.js';
import { buildModel, type ModelSpec } from '../../models/index.js';
import { TRAIN_LOSS_EVAL_SAMPLES, type TrainResult } from '../../core/run.js';
import type { TrainHooks, TrainSettings } from '../trainer.js';
import { decodeCheckpoint, encodeCheckpoint, restoreCheckpoint } from './checkpoint.js';
import { topHessianEigenvalue } from './sharpness.js';
import {
  closeRun,
  type DataTensors,
  distanceFromInit,
  microBatchFor,
  openRunState,
  runStep,
  type RunState,
} from './step.js';
import { evaluate, type SplitTensors } from './tensors.js';

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

export { type DataTensors, dataTensors, disposeDataTensors } from './step.js';

/** A run's tensors (step.ts) and where its loop stands in the data; disposed together (closeRun) in `finally`. */
interface TrainState extends RunState {
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
  /** Time spent in evaluations (the run's evaluation phase). */
  evalMs: number;
  status: TrainResult['status'];
  reached: TrainResult['reachedTarget'];
  steps: StepRecord[];
  evals: EvalRecord[];
}

/** Trains one model on one dataset (from its start or a checkpoint) and returns every measured step. */
export async function trainTfjs(opts: TfjsTrainOptions): Promise<TrainResult> {
  const startMs = performance.now();
  const state = await openRun(opts);
  const setupMs = performance.now() - startMs;
  try {
    const loop = await trainSteps(state, opts, startMs);
    return finishRun(state, opts, loop, { startMs, setupMs });
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
async function trainSteps(state: TrainState, opts: TfjsTrainOptions, startMs: number): Promise<Loop> {
  const { settings, hooks } = opts;
  const n = opts.data.train.count;
  const loop: Loop = {
    ...state.start,
    trainMs: 0,
    evalMs: 0,
    status: 'done',
    reached: undefined,
    steps: [],
    evals: [],
  };
  const evaluateNow = () =>
    recordEval(loop, opts, startMs, {
      step: loop.step,
      samples: loop.samples,
      split: 'test',
      ...timedEval(state, loop, state.test, settings.evalTestLimit),
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
          ...timedEval(state, loop, state.train, TRAIN_LOSS_EVAL_SAMPLES),
        });
    }
    const stop =
      loop.reached && targetStopStep(loop.reached.step, settings.targetOvershoot, settings.targetOvershootMinSteps);
    if (stop !== undefined && loop.step >= stop) {
      loop.status = 'target-reached';
      break;
    }
  }
  return loop;
}

/** An evaluation, its time added to the run's evaluation phase. */
function timedEval(state: TrainState, loop: Loop, split: SplitTensors, limit?: number) {
  const t0 = performance.now();
  const metrics = evaluate(state.built, split, state.lossFn, limit);
  loop.evalMs += performance.now() - t0;
  return metrics;
}

/** The step a run that reached its target at `reachedStep` stops at: ceil((1 + overshoot) x reachedStep), and at least minSteps past it. */
export function targetStopStep(reachedStep: number, overshoot = 0, minSteps = 0): number {
  return Math.max(Math.ceil((1 + Math.max(0, overshoot)) * reachedStep), reachedStep + Math.max(0, minSteps));
}

/** Keeps an evaluation, tells the hooks, and notes where the target was first reached. */
function recordEval(loop: Loop, opts: TfjsTrainOptions, startMs: number, rec: EvalRecord): void {
  loop.evals.push(rec);
  opts.hooks?.onEval?.(rec);
  if (!loop.reached && opts.settings.target && meetsTarget(rec, opts.settings)) {
    loop.reached = { step: rec.step, samples: rec.samples, wallMs: performance.now() - startMs };
  }
}

/** The final evaluations, the checkpoint when asked for, and the result with its phase timings. */
function finishRun(
  state: TrainState,
  opts: TfjsTrainOptions,
  loop: Loop,
  times: { startMs: number; setupMs: number },
): TrainResult {
  const { settings } = opts;
  const test = timedEval(state, loop, state.test);
  if (loop.evals.at(-1)?.step !== loop.step)
    recordEval(loop, opts, times.startMs, { step: loop.step, samples: loop.samples, split: 'test', ...test });
  if (loop.reached && loop.status === 'done') loop.status = 'target-reached';
  const train = timedEval(state, loop, state.train, settings.evalTrainLimit);
  loop.evals.push({ step: loop.step, samples: loop.samples, split: 'train', ...train });
  if (settings.saveCheckpoint) saveCheckpoint(state, settings, loop);
  const sharpnessStartMs = performance.now();
  const sharpness = measureSharpness(state, settings);
  const sharpnessMs = performance.now() - sharpnessStartMs;
  const wallMs = performance.now() - times.startMs;
  const { setupMs } = times;
  const steps = loop.steps;
  return {
    status: loop.status,
    steps,
    evals: loop.evals,
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
      eval: loop.evalMs,
      ...(sharpness ? { sharpness: sharpnessMs } : {}),
      other: Math.max(0, wallMs - setupMs - loop.trainMs - loop.evalMs - (sharpness ? sharpnessMs : 0)),
    },
    weights: opts.returnWeights ? state.vars.map((v) => v.dataSync() as Float32Array) : undefined,
  };
}

/** The top Hessian eigenvalue at the end (Lanczos, sharpness.ts) when asked for. */
function measureSharpness(state: TrainState, settings: TrainSettings): TrainResult['sharpness'] {
  if (!settings.sharpness) return undefined;
  const estimate = topHessianEigenvalue({
    built: state.built,
    vars: state.vars,
    train: state.train,
    lossFn: state.lossFn,
    ...settings.sharpness,
    seed: settings.seed,
  });
  return {
    ...settings.sharpness,
    topEigenvalue: estimate.topEigenvalue,
    method: 'lanczos',
    products: estimate.products,
  };
}

/** Hands the final state to settings.saveCheckpoint as checkpoint bytes. */
function saveCheckpoint(state: TrainState, settings: TrainSettings, loop: Loop): void {
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

async function openRun(opts: TfjsTrainOptions): Promise<TrainState> {
  const { settings } = opts;
  const built = await buildModel(opts.model, opts.data, settings.seed);
  const state: TrainState = {
    ...openRunState({ data: opts.data, built, optimizer: settings.optimizer, tensors: opts.tensors }),
    position: { epoch: 0, cursor: 0 },
    order: epochOrder(opts.data.train.count, settings.seed, 0),
    start: { step: 0, samples: 0, lr: 0, batchSize: 0 },
  };
  try {
    if (settings.resumeFrom) resume(state, settings, settings.resumeFrom);
  } catch (err) {
    closeRun(state);
    throw err;
  }
  return state;
}

/**
 * Puts a checkpoint's state into a freshly opened run (tfjs/checkpoint.ts); the checkpoint's initial
 * weights replace the clones openRunState made of the freshly built ones.
 */
function resume(state: TrainState, settings: TrainSettings, from: { bytes: Uint8Array; file: string }): void {
  const cp = decodeCheckpoint(from.bytes, from.file);
  const initial = restoreCheckpoint(
    cp,
    {
      vars: state.vars,
      optimizer: state.optimizer,
      optimizerConfig: settings.optimizer,
      trainCount: state.train.count,
    },
    from.file,
  );
  tf.dispose(state.initial);
  state.initial = initial;
  const m = cp.meta;
  state.position = { epoch: m.epoch, cursor: m.cursor };
  state.order = resumedOrder(cp.order, { cursor: m.cursor, savedSeed: m.seed, seed: settings.seed, epoch: m.epoch });
  state.start = { step: m.step, samples: m.samples, lr: m.lr, batchSize: m.batchSize };
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
