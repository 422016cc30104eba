/**
 * The one interface every trainer implements: the TF.js trainer (our own loop, tfjs/trainer.ts) and the
 * external-command trainer (a user's script through the JSON-lines protocol, external/trainer.ts).
 * Orchestration (`src/lab`) only talks to this: prepare, run with hooks, read the result.
 *
 * A run that ends badly throws: a DivergedError, an allocation failure, or a TrainFailedError (oom.ts)
 * that says how a command ended; `classifyError` (oom.ts) turns any of them into a status.
 */
import type { LastBatchPolicy } from '../core/batching.js';
import type { ProbeKind } from '../core/find-max.js';
import type { OomFigures } from '../core/oom-message.js';
import type { OptimizerConfig, StatedMemory, TrainBudget, TrainResult, TrainTarget } from '../core/run.js';
import type { EvalRecord, StepRecord } from '../core/types.js';

/** What a trainer knows before its first step: printed before a run, passed to progress hooks. */
export interface RunPlan {
  /** Where the steps run: a TF.js backend's name, or 'external command'. */
  backend: string;
  /** Effective batch B = micro-batch b x accumulation steps k. */
  batchSize: number;
  microBatchSize: number;
  accumSteps: number;
  /** "64 = 16 x 4": the same in words. */
  plan: string;
  /** Steps the budget allows (an upper bound when a target may stop the run earlier; 0 when unknown). */
  totalSteps: number;
}

/** A step as first seen, for progress output (a command's step may still gain fields from a later line). */
export type StepProgress = Pick<StepRecord, 'step' | 'samples' | 'loss' | 'stepMs' | 'batchSize'>;

export interface TrainHooks {
  /** Every step as it happens, for progress. */
  onProgress?(progress: StepProgress): void;
  /** Every step in its final form, to record (TF.js: at once; a command: when it has ended). */
  onStep?(record: StepRecord): void;
  onEval?(record: EvalRecord): void;
  /** Aborting stops the run after the current step; the result has status 'interrupted'. */
  signal?: AbortSignal;
}

/** One training run: prepare (load data, pick a backend, check the command), then run. */
export interface Trainer<P extends RunPlan = RunPlan> {
  /** Checks and loads what the run needs; calling it again returns the same plan. Throws typed errors for bad input. */
  prepare(): Promise<P>;
  /** Trains (preparing first if needed). Resolves when the run ended normally; throws when it failed. */
  run(hooks?: TrainHooks): Promise<TrainResult>;
}

/** What one probe (a few training steps at one batch size) measured: the one probe result of every trainer, read by find-max and stored as a probe. */
export interface ProbeMeasurement {
  kind: ProbeKind;
  /** Peak of the measure the budget is on (tensor peak, tree RSS, GPU or reported); undefined when not measured. */
  peakBytes?: number;
  /**
   * peakBytes is only an upper bound: a JAX warm process cannot reset its high-water mark, so a probe
   * below an earlier, larger one states that mark (peak_at_most_bytes, docs/protocol.md "Warm probes").
   */
  peakAtMost?: boolean;
  /** Resident high-water mark of the probe's process (tree), when known. */
  vmHwmBytes?: number;
  /** Wall time of the probe, ms. */
  ms: number;
  /** Why it failed (the first line is shown in tables). */
  message?: string;
  /** An out-of-memory's figures (what was tried, held, allowed), where its message stated them: they steer the search. */
  oom?: OomFigures;
  /** Each training step's time in ms, in order, warm-up included (the throughput of the probed batch). */
  stepMs?: number[];
  /** What the command stated of its memory: its allocator's cap and reserved peak (docs/protocol.md, section 2). */
  statedMemory?: StatedMemory;
}

/** What the TF.js training loop is asked to do (tfjs/train.ts); the TF.js trainer builds it from its config. */
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
  /**
   * The batch of each 1-based step when it changes during the run (a batch-size schedule): effective
   * batch B and micro-batch b (B = b x k); `batchSize` and `accumSteps` then describe the first step.
   */
  planAt?: (step: number) => { batchSize: number; microBatchSize: number };
  /** Resume from a checkpoint (tfjs/checkpoint.ts): its bytes, and its file name for messages. */
  resumeFrom?: { bytes: Uint8Array; file: string };
  /** Called once at the end (done, target reached or interrupted) with a checkpoint of the final state. */
  saveCheckpoint?: (bytes: Uint8Array, at: { step: number; samples: number }) => void;
  /**
   * Keep training after the target is reached, for this fraction of the steps it took (0.2: to step
   * ceil(1.2 S)), so the steps just past the target are measured too (recommend reads the noise scale
   * on both sides of the target's training loss). Default 0: stop at the evaluation that reached it.
   */
  targetOvershoot?: number;
  /** ...and at least this many steps past it (default 0), so a target reached in few steps still gets some. */
  targetOvershootMinSteps?: number;
}
