/**
 * What a run and a sweep leave in the store (`runs.summary`, `experiments.summary`), as JSON.
 * Reports, the dashboard and `batchlab show` read these shapes; the per-step rows are in the steps table.
 */
import type { RestsOn, Verdict } from './evidence.js';
import type { MeasuredInterval } from './intervals.js';
import type { RunPhasesMs, SplitMetrics, TargetMetric } from './run.js';
import { CLAIM_IDS, type ToSettle } from './trend.js';

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
  /**
   * The run's own sampling error, from inside the run (95%): held-out accuracy by a Wilson interval on
   * final.test.count samples; the median step time and the loss noise by a circular block bootstrap over
   * steps (intervals.ts). Absent in runs stored before intervals, or when too few steps were measured.
   */
  intervals?: RunIntervals;
  /** With a target: where it was first reached (undefined fields when it was not). */
  target?: {
    metric: TargetMetric;
    value: number;
    reached: boolean;
    steps?: number;
    samples?: number;
    wallMs?: number;
  };
}

/** Intervals of one run's own measurements (see RunSummary.intervals). */
export interface RunIntervals {
  testAccuracy?: MeasuredInterval;
  stepMs?: MeasuredInterval;
  lossNoise?: MeasuredInterval;
}

/**
 * What a finding speaks to: a claim of the usual advice (trend.ts CLAIM_IDS), or a measurement that tests no
 * claim: the critical batch, which runs reached the target, or nothing ('none': too few batch sizes).
 */
export const FINDING_CLAIMS = [...CLAIM_IDS, 'critical-batch', 'target', 'none'] as const;
export type FindingClaim = (typeof FINDING_CLAIMS)[number];

/** Which runs a generalization number compares (the same budget for every batch size). */
export type Comparison = 'equal-samples' | 'equal-steps' | 'equal-train-loss' | 'equal-held-out-target';

/**
 * One "What this sweep shows" line: a claim of the usual advice about batch size, the trend measured for it
 * across every batch size and seed, and the verdict of the trend test (core/trend.ts) with its interval.
 */
export interface Finding {
  effect: 'memory' | 'speed' | 'stability' | 'generalization';
  /** The claim checked; 'critical-batch' and 'target' are measurements that test no claim. */
  claim: FindingClaim;
  /** The line as printed: the claim, the measured trend and its interval, what it rests on, what would settle it. */
  text: string;
  /**
   * The data agrees with the usual advice, contradicts it, or is inconclusive (the trend is within the
   * noise); null for a line that tests no claim.
   */
  verdict: Verdict | null;
  /** t = slope / standard error of the trend per doubling of B, and its degrees of freedom (null: infinite). */
  statistic?: { name: 't'; value: number; df: number };
  /** Two-sided p-value of "no trend". */
  pValue?: number;
  /**
   * The trend per doubling of B with its interval: on the 'log' scale a factor per doubling ("x1.9"), on the
   * 'linear' scale a change in the metric's units (accuracy and gap as fractions).
   */
  interval?: { scale: 'log' | 'linear'; estimate: number; low: number; high: number; confidence: number };
  /** Seeds (or held-out samples) that would settle an inconclusive verdict. */
  toSettle?: ToSettle;
  /** Runs, seeds, batch sizes, held-out size and test the verdict rests on. */
  restsOn?: RestsOn;
  /** Generalization lines: at equal samples, equal steps, equal training loss, or at a held-out target. */
  comparison?: Comparison;
  /** Held-out accuracy: the batch sizes not worse than the best beyond the noise, and those worse (extremes.ts). */
  best?: { outcome: 'single' | 'set' | 'inconclusive'; best: number[]; worse: number[] };
  /** Throughput: where samples/s stops gaining, only inside the swept range (extremes.ts). */
  saturation?: { outcome: 'saturated' | 'still-rising' | 'inconclusive'; saturatedFrom?: number; largestBatch: number };
  /** Set on a line read from a sweep stored before verdicts: an endpoint comparison of one seed, no test. */
  predatesVerdicts?: boolean;
}

/** A per-batch-size number: the mean over seeds with a t interval (2+ seeds), else the one run's own interval. */
export interface BatchValue {
  estimate: number;
  /** Absent when nothing gives an interval (one run and no interval of its own). */
  low?: number;
  high?: number;
  confidence?: number;
  /** 'student-t' across seeds, or the run's own: 'wilson', 'circular-block-bootstrap', 'window-bootstrap'. */
  method?: string;
  /** Runs (seeds) averaged. */
  runs: number;
}

/** One batch size of a sweep: every per-run metric as a mean over its seeds with an interval. */
export interface BatchStats {
  batchSize: number;
  /** Finished runs at this batch size (one per seed). */
  runs: number;
  seeds: number[];
  peakBytes?: BatchValue;
  stepMs?: BatchValue;
  samplesPerSec?: BatchValue;
  lossNoise?: BatchValue;
  bSimple?: BatchValue;
  testAccuracy?: BatchValue;
  testLoss?: BatchValue;
  /** Train minus held-out accuracy, as a fraction. */
  gapAccuracy?: BatchValue;
  /** Held-out minus train loss. */
  gapLoss?: BatchValue;
  sharpness?: BatchValue;
  /** Runs that reached the target, and the mean steps to it over those. */
  reachedTarget?: number;
  stepsToTarget?: BatchValue;
}

/** Fits across the batch sizes of a sweep. */
export interface SweepSummary {
  /** peak = a + b*B. */
  memoryFit?: { interceptBytes: number; bytesPerSample: number; r2: number };
  /** t(B) = alpha + beta*B. */
  stepTimeFit?: { alphaMs: number; betaMsPerSample: number; r2: number };
  /**
   * The swept batch size from which every doubling up to the largest one swept gains under 10% samples/s,
   * beyond the noise (extremes.ts throughputSaturation); absent when not shown inside the swept range.
   */
  saturationBatch?: number;
  /** (S/S_min - 1)(E/E_min - 1) = 1; bCrit = E_min/S_min. */
  tradeoff?: { sMin: number; eMin: number; bCrit?: number; r2: number };
  /** Per batch size, the mean over seeds with its interval (absent in sweeps stored before intervals). */
  perBatch?: BatchStats[];
  /** The budget of every run, in words ("the same 8,000 samples per run (one epoch)"). */
  budget?: string;
  /** What the generalization findings compare: equal samples, equal steps, equal training loss, a held-out target. */
  comparison?: Comparison;
  findings: Finding[];
  /** Wall time of the whole sweep. */
  wallMs: number;
}
