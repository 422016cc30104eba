/**
 * One run of the playground, trained one update at a time so that several runs share the page: the
 * controller (page.ts) calls `step()` on whichever run has used the least training time. The update itself
 * is batchlab's (src/engine/tfjs/step.ts), the batching its seeded epoch order (src/core/batching.ts), the
 * model its built-in MLP with seeded weights (src/models/built-in.ts): runs built with the same seed start
 * from the same weights and see the samples in the same order, whatever their batch size. When the run
 * ends, core's summarizeRun turns its steps into the RunSummary a sweep stores. No DOM here.
 */
import * as tf from '@tensorflow/tfjs-core';
import { epochOrder, makeBatches, type BatchRange } from '../../../src/core/batching.js';
import { DivergedError } from '../../../src/core/errors.js';
import { NoiseScaleTracker } from '../../../src/core/noise.js';
import type { OptimizerConfig, SplitMetrics, TrainResult } from '../../../src/core/run.js';
import { summarizeRun } from '../../../src/core/summarize-run.js';
import type { RunSummary } from '../../../src/core/summary.js';
import type { EvalRecord, StepRecord } from '../../../src/core/types.js';
import type { Dataset } from '../../../src/data/types.js';
import { topHessianEigenvalue } from '../../../src/engine/tfjs/sharpness.js';
import {
  closeRun,
  distanceFromInit,
  microBatchFor,
  openRunState,
  type RunState,
  runStep,
} from '../../../src/engine/tfjs/step.js';
import { evaluate } from '../../../src/engine/tfjs/tensors.js';
import { buildBuiltInModel } from '../../../src/models/built-in.js';

/** Every NOISE_EVERY-th step is computed as two half-batches (the same update) to measure B_simple. */
export const NOISE_EVERY = 4;
/** EMA weight of the B_simple tracker: about 20 measured steps (runs of large batches are short). */
export const NOISE_ALPHA = 0.05;
/** Held-out evaluations per epoch, at the same sample counts for every batch size. */
export const EVALS_PER_EPOCH = 4;
/** Training samples evaluated at the end for the generalization gap. */
export const TRAIN_EVAL_LIMIT = 10_000;
/** Sharpness at the end: power iteration on the first 512 training samples (as `--sharpness` does). */
const SHARPNESS = { batchSamples: 512, iterations: 30 };

export interface PlaygroundRunConfig {
  data: Dataset;
  batchSize: number;
  /** This run's learning rate (already scaled for its batch size). */
  lr: number;
  optimizer: OptimizerConfig;
  hidden: number[];
  /** Initial weights and sample order: the same for every run of a comparison. */
  seed: number;
  epochs: number;
  /** The TF.js backend's name, for the summary. */
  backend: string;
}

export type RunStatus = 'waiting' | 'training' | 'done' | 'diverged';

/** A point of the B_simple series: smoothed tr(Sigma) / |G|^2 after step `step`. */
export interface NoisePoint {
  step: number;
  bSimple: number;
}

/** One batch size's run: its measured steps, evaluations, noise scale and, once done, its summary. */
export class PlaygroundRun {
  readonly config: PlaygroundRunConfig;
  readonly steps: StepRecord[] = [];
  /** Training time (the sum of step times, in ms) after each step, for the loss-against-time chart. */
  readonly trainMsAt: number[] = [];
  readonly evals: EvalRecord[] = [];
  readonly noise: NoisePoint[] = [];
  status: RunStatus = 'waiting';
  epoch = 0;
  trainMs = 0;
  summary: RunSummary | undefined;
  private readonly state: RunState;
  private readonly batches: BatchRange[];
  private readonly tracker = new NoiseScaleTracker({ alpha: NOISE_ALPHA });
  private readonly evalEverySamples: number;
  private order: Int32Array;
  private nextBatch = 0;
  private evalMs = 0;
  private closed = false;

  constructor(config: PlaygroundRunConfig) {
    this.config = config;
    const built = buildBuiltInModel({ name: 'mlp', hidden: config.hidden }, config.data, config.seed);
    this.state = openRunState({ data: config.data, built, optimizer: config.optimizer });
    const n = config.data.train.count;
    this.batches = makeBatches(n, config.batchSize);
    this.order = epochOrder(n, config.seed, 0);
    this.evalEverySamples = Math.max(1, Math.ceil(n / EVALS_PER_EPOCH));
    this.evaluateTest();
  }

  get samples(): number {
    return this.steps.at(-1)?.samples ?? 0;
  }

  get finished(): boolean {
    return this.status === 'done' || this.status === 'diverged';
  }

  /** One update (and an evaluation when the run passes a multiple of the evaluation interval). */
  async step(): Promise<void> {
    if (this.finished) return;
    this.status = 'training';
    const range = this.batches[this.nextBatch++]!;
    const step = this.steps.length + 1;
    const before = this.samples;
    let rec: StepRecord;
    try {
      rec = await runStep(this.state, {
        order: this.order,
        range,
        microBatchSize: microBatchFor(step, range, this.config.batchSize, NOISE_EVERY),
        step,
        lr: this.config.lr,
        samplesBefore: before,
      });
    } catch (err) {
      if (!(err instanceof DivergedError)) throw err;
      this.status = 'diverged';
      return;
    }
    this.record(rec);
    if (Math.floor(rec.samples / this.evalEverySamples) > Math.floor(before / this.evalEverySamples)) {
      this.evaluateTest();
    }
    if (this.nextBatch === this.batches.length) this.nextEpoch();
  }

  private record(rec: StepRecord): void {
    this.steps.push(rec);
    this.trainMs += rec.stepMs;
    this.trainMsAt.push(this.trainMs);
    const point = this.tracker.ingest(rec);
    if (point?.bSimple !== undefined) this.noise.push({ step: rec.step, bSimple: point.bSimple });
  }

  private nextEpoch(): void {
    this.epoch++;
    this.nextBatch = 0;
    if (this.epoch >= this.config.epochs) this.finish();
    else this.order = epochOrder(this.config.data.train.count, this.config.seed, this.epoch);
  }

  private evaluateTest(): SplitMetrics {
    const t0 = performance.now();
    const metrics = evaluate(this.state.built, this.state.test, this.state.lossFn);
    this.evals.push({ step: this.steps.length, samples: this.samples, split: 'test', ...metrics });
    this.evalMs += performance.now() - t0;
    return metrics;
  }

  /** The end-of-run measurements and the RunSummary, as a sweep would store them. */
  private finish(): void {
    const last = this.evals.at(-1);
    const test = last?.step === this.steps.length ? { loss: last.loss, accuracy: last.accuracy } : this.evaluateTest();
    const train = evaluate(this.state.built, this.state.train, this.state.lossFn, TRAIN_EVAL_LIMIT);
    const estimate = topHessianEigenvalue({ ...this.state, ...SHARPNESS, seed: this.config.seed });
    const result: TrainResult = {
      status: 'done',
      steps: this.steps,
      evals: this.evals,
      final: { train, test },
      trainMs: this.trainMs,
      wallMs: this.trainMs + this.evalMs,
      samples: this.samples,
      peakBytes: this.steps.reduce((m, s) => Math.max(m, s.peakBytes), 0),
      distanceFromInit: distanceFromInit(this.state),
      sharpness: { ...SHARPNESS, method: 'lanczos', ...estimate },
    };
    const { batchSize, seed, lr, backend } = this.config;
    this.summary = summarizeRun(result, { batchSize, microBatchSize: batchSize, accumSteps: 1, seed, lr, backend });
    this.status = 'done';
  }

  /** Frees the run's tensors (weights, optimizer state, data); safe to call twice. */
  dispose(): void {
    if (this.closed) return;
    this.closed = true;
    closeRun(this.state);
  }
}

/** Tensors alive on the backend (the page publishes it, so a test can check a reset leaks none). */
export function liveTensors(): number {
  return tf.memory().numTensors;
}
