/**
 * batchlab's own TF.js training loop (not `model.fit`), so that every step can be measured: budget,
 * evaluations, target and the end-of-run measurements around the steps of step.ts (one update each, with
 * |g|^2 at two batch sizes for the gradient noise scale).
 */
import { epochOrder, makeBatches, planAccumulation } from '../../core/batching.js';
import type { EvalRecord, StepRecord } from '../../core/types.js';
import type { Dataset } from '../../data/types.js';
import { buildModel, type ModelSpec } from '../../models/index.js';
import { TRAIN_LOSS_EVAL_SAMPLES, type TrainResult } from '../../core/run.js';
import type { TrainHooks, TrainSettings } from '../trainer.js';
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
        }
        const stop =
          loop.reached && targetStopStep(loop.reached.step, settings.targetOvershoot, settings.targetOvershootMinSteps);
        if (stop !== undefined && loop.step >= stop) {
          loop.status = 'target-reached';
          break epochs;
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
  return openRunState({ data: opts.data, built, optimizer: opts.settings.optimizer, tensors: opts.tensors });
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

/** The step a run that reached its target at `reachedStep` stops at: ceil((1 + overshoot) x reachedStep), and at least minSteps past it. */
export function targetStopStep(reachedStep: number, overshoot = 0, minSteps = 0): number {
  return Math.max(Math.ceil((1 + Math.max(0, overshoot)) * reachedStep), reachedStep + Math.max(0, minSteps));
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
