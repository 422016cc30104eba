/**
 * What a run and a sweep leave in the store (`runs.summary`, `experiments.summary`), as JSON.
 * Reports, the dashboard and `batchlab show` read these shapes; the per-step rows are in the steps table.
 */
import type { RunPhasesMs, SplitMetrics } from './run.js';

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
  /** lambda_max estimated from finite-difference Hessian-vector products. */
  topEigenvalue: number;
  /** Samples in the fixed batch the Hessian is taken on. */
  batchSamples: number;
  /** The most Hessian-vector products allowed (--sharpness-iterations). */
  iterations: number;
  /** How: Lanczos (since batchlab measured its overhead), or power iteration (older runs, when absent). */
  method?: 'power' | 'lanczos';
  /** Hessian-vector products made (each two gradients on the fixed batch). */
  products?: number;
}

/**
 * How a run's step times were measured. Step time and throughput measured while other runs shared the
 * machine (--parallel N) are not comparable with those of a run alone: the cores, caches and memory
 * bandwidth were shared. `--timing isolated` re-measures each batch size alone after the parallel
 * training; the summary's stepMs and samplesPerSec are then those, and the shared ones are kept here.
 */
export interface RunTiming {
  /** Up to this many runs trained at once on the machine while this run's steps were timed (1: alone). */
  runsAtOnce: number;
  /** Threads of the run's TF.js backend (BATCHLAB_THREADS), when batchlab set them. */
  threads?: number;
  /** Where stepMs and samplesPerSec come from: this run's own steps, or a re-measurement of its batch size alone. */
  stepTimeFrom: 'run' | 'isolated';
  /** With 'isolated': the steps timed alone, and the run's own numbers measured under sharing. */
  isolatedSteps?: number;
  shared?: { stepMs: { median: number; p90: number; warmupExcluded: number }; samplesPerSec: number };
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
  /** Where the run's time went: its steps, and the lab's own overhead (evaluations, sharpness, set-up, ...). */
  phasesMs?: RunPhasesMs;
  /** How its step times were measured (absent: alone, before batchlab recorded this). */
  timing?: RunTiming;
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
