/**
 * What a training run is asked to do and what it gives back, as plain data: the same shapes for every
 * trainer (TF.js or a user's command), so the summaries, the store and the reports read one result.
 */
import { UnknownNameError } from './errors.js';
import type { EvalRecord, StepRecord } from './types.js';

/** Optimizers by name; the update rules are in engine/tfjs/optimizers.ts. */
export const OPTIMIZER_NAMES = ['sgd', 'momentum', 'adam'] as const;
export type OptimizerName = (typeof OPTIMIZER_NAMES)[number];

export interface OptimizerConfig {
  name: OptimizerName;
  /** momentum: mu (default 0.9). */
  momentum?: number;
  /** adam: beta1, beta2, epsilon (defaults 0.9, 0.999, 1e-8). */
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

export function assertOptimizerName(name: string): asserts name is OptimizerName {
  if (!(OPTIMIZER_NAMES as readonly string[]).includes(name)) {
    throw new UnknownNameError('BATCHLAB_UNKNOWN_OPTIMIZER', 'optimizer', name, OPTIMIZER_NAMES);
  }
}

/** How long to train: the run stops at whichever limit comes first (at least one must be set). */
export interface TrainBudget {
  epochs?: number;
  maxSteps?: number;
  maxSamples?: number;
}

/** What a target is measured on: held-out accuracy or loss, or the training loss. */
export const TARGET_METRICS = ['accuracy', 'loss', 'train-loss'] as const;
export type TargetMetric = (typeof TARGET_METRICS)[number];

/**
 * Stop early once an evaluation reaches this. 'accuracy' and 'loss' are measured on the held-out split;
 * 'train-loss' on a fixed subset of the training split (the first TRAIN_LOSS_EVAL_SAMPLES rows), so that
 * every batch size stops at the same training loss and the held-out metrics compare at equal fit.
 */
export interface TrainTarget {
  metric: TargetMetric;
  /** accuracy: stop when >= value; loss and train-loss: stop when <= value. */
  value: number;
}

/** Training rows the periodic training-loss evaluation of a 'train-loss' target runs on (the first ones). */
export const TRAIN_LOSS_EVAL_SAMPLES = 2048;

/** How long each run of a sweep trains. `target` stops at the target, or after `maxEpochs`. */
export type SweepBudget =
  | { kind: 'epochs'; value: number }
  | { kind: 'steps'; value: number }
  | { kind: 'samples'; value: number }
  | { kind: 'target'; target: TrainTarget; maxEpochs: number };

/** Loss and accuracy on one split. */
export interface SplitMetrics {
  loss: number;
  /** Classification only, in [0, 1]. */
  accuracy?: number;
  /** Samples evaluated (what an accuracy's binomial interval rests on); absent when unknown (a command's). */
  count?: number;
}

/**
 * What a process stated of its memory besides its peak (docs/protocol.md, section 2): the cap its
 * allocator runs under (memory_limit_bytes), the allocator's reserved peak (peak_reserved_bytes) and,
 * from a process that states either, its allocated peak (peak_mem_bytes: torch.cuda.max_memory_allocated),
 * which find-max's search reads under a cap (core/find-max.ts bindingCap).
 */
export interface StatedMemory {
  limitBytes?: number;
  peakReservedBytes?: number;
  peakAllocatedBytes?: number;
}

/** A run that trained to its end (or to its target, or until it was stopped). Failures are thrown instead. */

export interface TrainResult {
  status: 'done' | 'interrupted' | 'target-reached';
  steps: StepRecord[];
  evals: EvalRecord[];
  final: { train: SplitMetrics; test: SplitMetrics };
  /** Training time: the sum of step times (evaluations excluded). */
  trainMs: number;
  /** Wall time of the whole run, evaluations and setup included. */
  wallMs: number;
  samples: number;
  /**
   * Largest per-step memory peak, in bytes: the tensor high-water mark of a TF.js step (see
   * StepRecord.peakBytes); for a command, the measure its memory budget is on (else what it reports,
   * its GPU memory or its process tree's RSS, in that order of preference).
   */
  peakBytes: number;
  /** Resident high-water mark of the process that trained (VmHWM; a command's process-tree RSS), when known. */
  vmHwmBytes?: number;
  /** |w - w0|, the L2 distance of the final weights from the initial ones (Hoffer et al. 2017); NaN when unknown. */
  distanceFromInit: number;
  /** Set when a target was given and reached: where it was first reached. */
  reachedTarget?: { step: number; samples: number; wallMs: number };
  /** Top Hessian eigenvalue at the end, when asked for. */
  sharpness?: {
    topEigenvalue: number;
    batchSamples: number;
    iterations: number;
    method?: 'power' | 'lanczos';
    products?: number;
  };
  /** Where the run's wall time went (phases a trainer does not measure are absent). */
  phasesMs?: RunPhasesMs;
  /** A command's own statement of its memory cap and reserved peak, when it made one. */
  statedMemory?: StatedMemory;
  /** Final weights, flattened per variable, when asked for (tests). */
  weights?: Float32Array[];
}

/**
 * Where one run's time went, in ms: the lab's own overhead next to the training itself (`train` is the
 * run's trainMs). Phases a trainer or launcher did not measure are absent; `other` is the trainer's wall
 * time less its measured phases (progress messages, yields to the event loop, per-step bookkeeping).
 */
export interface RunPhasesMs {
  /** Starting the process that trained: Node, TF.js and its backend. Only on the run that started it. */
  processStart?: number;
  /** Loading the dataset (kept by a warm worker after its first run), picking the backend. */
  data?: number;
  /** Building the model, seeding its weights, copying the splits into tensors. */
  setup?: number;
  /** The training steps: the sum of step times (trainMs). */
  train: number;
  /** Evaluations: periodic held-out, final held-out and final training-split. */
  eval?: number;
  /** The end-of-run sharpness estimate. */
  sharpness?: number;
  /** Writing steps and evaluations as they come (the store, or a Slurm job's files). */
  record?: number;
  /** The trainer's wall time less the phases it measured. */
  other?: number;
}
