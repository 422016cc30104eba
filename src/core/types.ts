/**
 * Records shared by trainers, the store and the reports. Units are in the names.
 * Definitions follow ../shared/product.md: batch size B = samples per update; micro-batch b =
 * samples per forward/backward pass; accumulation steps k; B = b x k.
 */

/** One optimizer update. */
export interface StepRecord {
  /** 1-based index of the update. */
  step: number;
  /** Training samples seen after this step (cumulative). */
  samples: number;
  /** Mean training loss over the samples of this step. */
  loss: number;
  /** Learning rate used for this update. */
  lr: number;
  /** Wall time of the step (all micro-batches + update), in ms. */
  stepMs: number;
  /** Samples in this update (the effective batch; the last one of an epoch may be partial). */
  batchSize: number;
  /** Samples per forward/backward pass. */
  microBatchSize: number;
  /** Number of micro-batches averaged into this update. */
  accumSteps: number;
  /** |g|^2 of the applied (averaged) gradient. */
  gradSqNorm: number;
  /** Mean over the micro-batches of |g_micro|^2; equals gradSqNorm when accumSteps = 1. */
  microGradSqNorm: number;
  /** Tensor-memory high-water mark during this step, in bytes. */
  peakBytes: number;
}

/** One evaluation on held-out (or training) data. */
export interface EvalRecord {
  step: number;
  samples: number;
  /** Which split was evaluated. */
  split: 'train' | 'test';
  loss: number;
  /** Classification accuracy in [0, 1]; undefined for regression. */
  accuracy?: number;
}
