/**
 * What a run and a sweep leave in the store (`runs.summary`, `experiments.summary`), as JSON.
 * Reports, the dashboard and `batchlab show` read these shapes; the per-step rows are in the steps table.
 */
import type { SplitMetrics } from './run.js';

/** The gradient noise scale of a run (McCandlish et al. 2018, App. A). */
export interface NoiseSummary {
  /** B_simple at the end of the measured window; undefined when it could not be measured. */
  bSimple?: number;
  /** Confidence interval from a bootstrap over windows of steps. */
  ciLow?: number;
  ciHigh?: number;
  confidence: number;
  /** The steps the estimate covers: [first, last]. */
  fromStep: number;
  toStep: number;
  /** Steps that carried two batch sizes (micro and full), i.e. usable measurements. */
  measuredSteps: number;
  /** Why there is no estimate, when there is none. */
  status: string;
  /** Smoothed B_simple over training, downsampled: [step, value]. */
  series: [number, number][];
}

/** Top Hessian eigenvalue of the training loss at the end of the run. */
export interface SharpnessSummary {
  /** lambda_max estimated by power iteration on finite-difference Hessian-vector products. */
  topEigenvalue: number;
  /** Samples in the fixed batch the Hessian is taken on. */
  batchSamples: number;
  iterations: number;
}

/** Everything measured about one run (one batch size, one seed). */
export interface RunSummary {
  batchSize: number;
  microBatchSize: number;
  accumSteps: number;
  seed: number;
  lr: number;
  backend: string;
  steps: number;
  samples: number;
  wallMs: number;
  trainMs: number;
  /** Step time after the warm-up steps are excluded (median and 90th percentile). */
  stepMs: { median: number; p90: number; warmupExcluded: number };
  /** B / median step time. */
  samplesPerSec: number;
  /** Tensor high-water mark of a training step, dataset excluded. */
  peakBytes: number;
  /** Resident high-water mark of the run's process (VmHWM), when known. */
  vmHwmBytes?: number;
  /** Standard deviation of the per-step loss around its EMA. */
  lossNoise: number;
  noise: NoiseSummary;
  final: { train: SplitMetrics; test: SplitMetrics };
  /** Generalization gap = train metric - held-out metric (accuracy for classification, else loss: test - train). */
  gap: { accuracy?: number; loss: number };
  /** |w_final - w_init| (Hoffer et al. 2017). */
  distanceFromInit: number;
  sharpness?: SharpnessSummary;
  /** With a target: where it was first reached (undefined fields when it was not). */
  target?: {
    metric: 'accuracy' | 'loss';
    value: number;
    reached: boolean;
    steps?: number;
    samples?: number;
    wallMs?: number;
  };
}

/** One "What this sweep shows" line: a claim of the seed, and what we measured for it. */
export interface Finding {
  effect: 'memory' | 'speed' | 'stability' | 'generalization';
  text: string;
  /** true: the data agrees with the seed's claim; false: it contradicts it; null: not decidable. */
  agreesWithSeed: boolean | null;
}

/** Fits across the batch sizes of a sweep. */
export interface SweepSummary {
  /** peak = a + b*B. */
  memoryFit?: { interceptBytes: number; bytesPerSample: number; r2: number };
  /** t(B) = alpha + beta*B. */
  stepTimeFit?: { alphaMs: number; betaMsPerSample: number; r2: number };
  /** Batch past which doubling B gains under 10% samples/s. */
  saturationBatch?: number;
  /** (S/S_min - 1)(E/E_min - 1) = 1; bCrit = E_min/S_min. */
  tradeoff?: { sMin: number; eMin: number; bCrit?: number; r2: number };
  findings: Finding[];
  /** Wall time of the whole sweep. */
  wallMs: number;
}
