/**
 * The one interface every trainer implements: the TF.js trainer (our own loop) and, later, the
 * external-command trainer. Orchestration (`src/lab`) only talks to this.
 */
import type { LastBatchPolicy } from '../core/batching.js';
import type { EvalRecord, StepRecord } from '../core/types.js';
import type { OptimizerConfig } from './tfjs/optimizers.js';

/** How long to train: the run stops at whichever limit comes first (at least one must be set). */
export interface TrainBudget {
  epochs?: number;
  maxSteps?: number;
  maxSamples?: number;
}

/** Stop early once an evaluation on the held-out split reaches this. */
export interface TrainTarget {
  metric: 'accuracy' | 'loss';
  /** accuracy: stop when >= value; loss: stop when <= value. */
  value: number;
}

export interface TrainSettings {
  /** Effective batch B (samples per update). */
  batchSize: number;
  /** k: micro-batches per update; micro-batch b = B / k. */
  accumSteps: number;
  budget: TrainBudget;
  lastBatch: LastBatchPolicy;
  /** Seeds the initial weights and the sample order. */
  seed: number;
  optimizer: OptimizerConfig;
  /** Learning rate of the 1-based step `step` (warm-up and decay included). */
  lrAt: (step: number) => number;
  /** Evaluate on the held-out split every this many steps (0: only at the end). */
  evalEvery: number;
  /** Samples of the training split used for the final train metrics (the generalization gap). */
  evalTrainLimit: number;
  /** Held-out samples used by the periodic evaluations (the final one uses the whole split). Default: all. */
  evalTestLimit?: number;
  /**
   * Gradient-noise measurement without accumulation: every `noiseEvery` steps, the batch is computed as
   * two micro-batches of B/2 (the same update, exactly), so the step carries |g|^2 at two batch sizes.
   * 0 or undefined: never (steps with accumulation always carry both).
   */
  noiseEvery?: number;
  /** First step at which noiseEvery applies (default 1): measure the noise scale later in training. */
  noiseFromStep?: number;
  /** Estimate the top Hessian eigenvalue at the end (see sharpness.ts). */
  sharpness?: { batchSamples: number; iterations: number };
  target?: TrainTarget;
}

export interface TrainHooks {
  onStep?(record: StepRecord): void;
  onEval?(record: EvalRecord): void;
  /** Aborting stops the run after the current step; the result has status 'interrupted'. */
  signal?: AbortSignal;
}

export interface Metrics {
  loss: number;
  /** Classification only. */
  accuracy?: number;
}

export interface TrainResult {
  status: 'done' | 'interrupted' | 'target-reached';
  steps: StepRecord[];
  evals: EvalRecord[];
  final: { train: Metrics; test: Metrics };
  /** Training time: the sum of step times (evaluations excluded). */
  trainMs: number;
  /** Wall time of the whole run, evaluations and setup included. */
  wallMs: number;
  samples: number;
  /** Largest per-step tensor high-water mark, in bytes (see StepRecord.peakBytes). */
  peakBytes: number;
  /** |w - w0|, the L2 distance of the final weights from the initial ones (Hoffer et al. 2017). */
  distanceFromInit: number;
  /** Set when a target was given and reached: where it was first reached. */
  reachedTarget?: { step: number; samples: number; wallMs: number };
  /** Top Hessian eigenvalue at the end, when asked for. */
  sharpness?: { topEigenvalue: number; batchSamples: number; iterations: number };
  /** Final weights, flattened per variable, when asked for (tests). */
  weights?: Float32Array[];
}
